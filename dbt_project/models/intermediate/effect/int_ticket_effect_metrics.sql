{#- The moment "now" for maturity and breach-by-now flags; pass --vars to freeze it. -#}
{%- set snapshot_at = var('effect_snapshot_at', none) -%}
{%- set snapshot_sql = ("'" ~ snapshot_at ~ "'::timestamptz") if snapshot_at else 'now()' -%}

with

tasks as (

    select * from {{ ref('int_ticket_fields_pivoted_to_tickets') }}

),

events as (

    select * from {{ ref('int_ticket_events_classified') }}

),

field_updates as (

    select * from {{ ref('int_ticket_field_updates_mapped') }}

),

suggestions as (

    select * from {{ ref('stg_assistant__suggestions') }}

),

sla_policy as (

    select * from {{ ref('sla_policy') }}

),

rollout as (

    select * from {{ ref('assistant_rollout') }}

),

-- The category as first entered on the form (same rule as fct_tickets): stratify on it,
-- never on a later edit or on a model's prediction (post-treatment,
-- docs/effect-measurement.md §5 pitfall 3).
first_category_values as (

    select distinct on (ticket_id)
        ticket_id,
        category_code
    from field_updates
    where field_role = 'category' and has_value and category_code is not null
    order by ticket_id, comment_position

),

tickets as (

    select
        tasks.ticket_id,
        tasks.subject,
        tasks.created_at,
        tasks.closed_at,
        tasks.priority,
        tasks.assistant_feedback,
        coalesce(first_category_values.category_code, tasks.category_code) as category_at_creation,
        {{ snapshot_sql }} as snapshot_at
    from tasks
    left join first_category_values on tasks.ticket_id = first_category_values.ticket_id
    where not tasks.is_deleted and tasks.created_at is not null

),

-- Only staff public replies count as a response (never bot posts or internal notes).
event_facts as (

    select
        events.ticket_id,
        min(events.event_at) filter (
            where events.event_type = 'staff_public' and events.event_at >= tickets.created_at
        ) as first_response_at,
        min(events.event_at) filter (
            where
            events.event_type = 'staff_public'
            and events.event_at >= tickets.created_at
            and not (
                {{ is_acknowledgement('events.body_text') }}
            )
        ) as first_substantive_response_at,
        min(events.event_at) filter (where events.event_type = 'closed') as first_closed_at,
        max(events.event_at) filter (where events.event_type = 'closed') as last_closed_at,
        count(*) filter (where events.event_type = 'reopened') as reopen_count,
        count(*) filter (where events.event_type = 'staff_public') as staff_public_reply_count,
        min(events.event_at) filter (where events.event_type = 'bot_post') as first_bot_post_at,
        (array_agg(events.event_type order by events.event_sequence desc) filter (
            where events.event_type in ('closed', 'reopened')
        ))[1] as last_state_event
    from events
    inner join tickets on events.ticket_id = tickets.ticket_id
    group by events.ticket_id

),

reopens as (

    select
        events.ticket_id,
        bool_or(
            events.event_at < event_facts.first_closed_at + interval '7 days'
        ) as has_reopen_within_7d
    from events
    inner join event_facts on events.ticket_id = event_facts.ticket_id
    where events.event_type = 'reopened' and events.event_at >= event_facts.first_closed_at
    group by events.ticket_id

),

-- The experiment scope of each ticket: its category's rollout row, else the default.
ticket_rollout as (

    select
        tickets.ticket_id,
        coalesce(by_category.enabled_from, by_default.enabled_from) as enabled_from
    from tickets
    left join rollout as by_category on tickets.category_at_creation = by_category.category_code
    left join rollout as by_default on by_default.category_code = '*'

),

milestones as (

    select
        tickets.*,
        event_facts.first_response_at,
        event_facts.first_substantive_response_at,
        coalesce(event_facts.first_closed_at, tickets.closed_at) as first_closed_at,
        coalesce(event_facts.last_closed_at, tickets.closed_at) as last_closed_at,
        (
            tickets.closed_at is null
            or coalesce(event_facts.last_state_event = 'reopened', false)
        ) as is_open_now,
        coalesce(event_facts.reopen_count, 0) as reopen_count,
        coalesce(event_facts.staff_public_reply_count, 0) as staff_public_reply_count,
        coalesce(reopens.has_reopen_within_7d, false) as has_reopen_within_7d,
        coalesce(suggestions.posted_at, event_facts.first_bot_post_at) as bot_posted_at,
        suggestions.ticket_id is not null as has_suggestion_log,
        case
            when tickets.created_at < (ticket_rollout.enabled_from::timestamp at time zone 'Europe/Moscow')
                then 'pre_rollout'
            when suggestions.arm is not null then suggestions.arm
            else 'unassigned'
        end as assignment_arm
    from tickets
    left join event_facts on tickets.ticket_id = event_facts.ticket_id
    left join reopens on tickets.ticket_id = reopens.ticket_id
    left join ticket_rollout on tickets.ticket_id = ticket_rollout.ticket_id
    left join suggestions on tickets.ticket_id = suggestions.ticket_id

),

durations as (

    select
        milestones.*,
        {{ calendar_minutes('created_at', 'first_response_at') }} as frt_cal_min,
        {{ business_minutes('created_at', 'first_response_at') }} as frt_bm,
        {{ business_minutes('created_at', 'first_substantive_response_at') }} as frt_substantive_bm,
        {{ calendar_minutes('created_at', 'first_closed_at') }} as first_resolution_cal_min,
        {{ business_minutes('created_at', 'first_closed_at') }} as first_resolution_bm,
        case
            when not milestones.is_open_now then
                {{ calendar_minutes('created_at', 'last_closed_at') }}
        end as full_resolution_cal_min,
        case
            when not milestones.is_open_now then
                {{ business_minutes('created_at', 'last_closed_at') }}
        end as full_resolution_bm,
        {{ business_minutes('created_at', 'snapshot_at') }} as age_bm
    from milestones

),

final as (

    select
        durations.ticket_id,
        durations.subject,
        durations.created_at,
        (durations.created_at at time zone 'Europe/Moscow')::date as created_date_msk,
        date_trunc('week', durations.created_at at time zone 'Europe/Moscow')::date
            as created_week_msk,
        durations.priority,
        durations.category_at_creation,
        durations.assignment_arm,
        durations.first_response_at,
        durations.frt_cal_min,
        durations.frt_bm,
        durations.first_substantive_response_at,
        durations.frt_substantive_bm,
        durations.first_closed_at,
        durations.last_closed_at,
        durations.is_open_now,
        durations.first_resolution_cal_min,
        durations.first_resolution_bm,
        durations.full_resolution_cal_min,
        durations.full_resolution_bm,
        durations.reopen_count,
        durations.first_closed_at <= durations.snapshot_at - interval '7 days'
            as is_reopen_eligible,
        case
            when durations.first_closed_at <= durations.snapshot_at - interval '7 days'
                then durations.has_reopen_within_7d
        end as is_reopened_7d,
        durations.staff_public_reply_count,
        (
            not durations.is_open_now
            and durations.reopen_count = 0
            and durations.staff_public_reply_count <= 1
        ) as is_one_touch,
        coalesce(sla_policy.frt_target_bm, sla_default.frt_target_bm) as frt_sla_target_bm,
        coalesce(sla_policy.resolution_target_bm, sla_default.resolution_target_bm)
            as resolution_sla_target_bm,
        case
            when coalesce(sla_policy.frt_target_bm, sla_default.frt_target_bm) is not null
                then
                    coalesce(durations.frt_bm, durations.age_bm)
                    > coalesce(sla_policy.frt_target_bm, sla_default.frt_target_bm)
        end as is_frt_sla_breached,
        durations.bot_posted_at is not null as has_bot_suggestion,
        durations.bot_posted_at,
        durations.has_suggestion_log,
        coalesce(
            durations.bot_posted_at < coalesce(durations.first_response_at, 'infinity'),
            false
        ) as posted_before_first_response,
        durations.assistant_feedback,
        durations.created_at <= durations.snapshot_at - interval '14 days' as is_mature_14d,
        durations.snapshot_at
    from durations
    left join sla_policy
        on
            durations.category_at_creation = sla_policy.category_code
            and durations.priority = sla_policy.priority
    -- category_code '*' rows are the defaults for categories without their own row
    left join sla_policy as sla_default
        on
            sla_default.category_code = '*'
            and durations.priority = sla_default.priority

)

select * from final
