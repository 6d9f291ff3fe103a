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

predicted_categories as (

    select * from {{ ref('stg_kb__ticket_categories') }}

),

suggestions as (

    select * from {{ ref('stg_assistant__suggestions') }}

),

effect_metrics as (

    select * from {{ ref('int_ticket_effect_metrics') }}

),

-- Bot posts and internal notes never count as a response: only staff_public events.
event_metrics as (

    select
        events.ticket_id,
        min(events.event_at) filter (
            where events.event_type = 'staff_public' and events.event_at >= tasks.created_at
        ) as first_response_at,
        min(events.event_at) filter (where events.event_type = 'closed') as first_closed_event_at,
        max(events.event_at) filter (where events.event_type = 'closed') as last_closed_event_at,
        count(*) filter (where events.event_type = 'reopened') as reopen_count,
        count(*) filter (where events.event_type = 'staff_public') as staff_public_reply_count,
        count(*) filter (where events.event_type = 'customer_msg') as customer_message_count,
        count(*) filter (where events.event_type = 'bot_post') as bot_post_count,
        min(events.event_at) filter (where events.event_type = 'bot_post') as first_bot_post_at,
        sum(events.spent_minutes) filter (where events.actor_class = 'staff') as handle_minutes,
        (array_agg(events.channel_type order by events.event_sequence) filter (
            where events.event_type = 'customer_msg' and events.channel_type is not null
        ))[1] as channel_type
    from events
    inner join tasks on events.ticket_id = tasks.ticket_id
    group by events.ticket_id

),

-- The category as first entered (the form's history), for stratifying before/after.
first_category_values as (

    select distinct on (ticket_id)
        ticket_id,
        category_code
    from field_updates
    where field_role = 'category' and has_value
    order by ticket_id, comment_position

),

final as (

    select
        tasks.ticket_id,
        tasks.form_id,
        tasks.created_at,
        (tasks.created_at at time zone 'Europe/Moscow')::date as created_date_msk,
        tasks.subject,
        tasks.description,
        tasks.client_name,
        tasks.priority,
        tasks.author_id,
        tasks.responsible_id,
        tasks.responsible_name,
        event_metrics.channel_type,
        tasks.category_code as staff_category_code,
        coalesce(
            first_category_values.category_code, tasks.category_code
        ) as category_code_at_creation,
        predicted_categories.category_code as predicted_category_code,
        predicted_categories.confidence as predicted_category_confidence,
        predicted_categories.method as predicted_category_method,
        event_metrics.first_response_at,
        round(
            extract(epoch from event_metrics.first_response_at - tasks.created_at) / 60.0, 1
        ) as first_response_minutes,
        coalesce(event_metrics.first_closed_event_at, tasks.closed_at) as first_closed_at,
        coalesce(event_metrics.last_closed_event_at, tasks.closed_at) as last_closed_at,
        coalesce(event_metrics.reopen_count, 0) as reopen_count,
        coalesce(event_metrics.staff_public_reply_count, 0) as staff_public_reply_count,
        coalesce(event_metrics.customer_message_count, 0) as customer_message_count,
        coalesce(event_metrics.bot_post_count, 0) as bot_post_count,
        event_metrics.handle_minutes,
        coalesce(event_metrics.bot_post_count, 0) > 0
        or coalesce(suggestions.is_posted, false) as has_bot_suggestion,
        coalesce(suggestions.posted_at, event_metrics.first_bot_post_at) as bot_suggested_at,
        suggestions.arm as assistant_arm,
        tasks.assistant_feedback,
        tasks.is_closed,
        tasks.last_modified_at,
        -- Effect measurement (docs/effect-measurement.md §2.3, §3.1), see int_ticket_effect_metrics.
        effect_metrics.created_week_msk,
        effect_metrics.assignment_arm,
        effect_metrics.frt_cal_min,
        effect_metrics.frt_bm,
        effect_metrics.first_substantive_response_at,
        effect_metrics.frt_substantive_bm,
        effect_metrics.first_resolution_cal_min,
        effect_metrics.first_resolution_bm,
        effect_metrics.full_resolution_cal_min,
        effect_metrics.full_resolution_bm,
        effect_metrics.is_open_now,
        effect_metrics.is_reopen_eligible,
        effect_metrics.is_reopened_7d,
        effect_metrics.is_one_touch,
        effect_metrics.frt_sla_target_bm,
        effect_metrics.resolution_sla_target_bm,
        effect_metrics.is_frt_sla_breached,
        effect_metrics.posted_before_first_response,
        effect_metrics.is_mature_14d,
        effect_metrics.snapshot_at as effect_snapshot_at
    from tasks
    left join event_metrics on tasks.ticket_id = event_metrics.ticket_id
    left join first_category_values on tasks.ticket_id = first_category_values.ticket_id
    left join predicted_categories on tasks.ticket_id = predicted_categories.ticket_id
    left join suggestions on tasks.ticket_id = suggestions.ticket_id
    left join effect_metrics on tasks.ticket_id = effect_metrics.ticket_id
    where not tasks.is_deleted

)

select * from final
