{#- A view: usage counts come from the score stage, which runs after the marts. -#}
{{ config(materialized='view') }}

with

tickets as (

    select * from {{ ref('fct_tickets') }}

),

suggestions as (

    select * from {{ ref('fct_assistant_suggestions') }}

),

joined as (

    select
        tickets.*,
        suggestions.usage_class
    from tickets
    left join suggestions on tickets.ticket_id = suggestions.ticket_id

),

-- Additive counts and sums only (plus display percentiles): BI re-aggregates these.
daily as (

    select
        created_date_msk,
        coalesce(category_code_at_creation, 'unknown') as category_code,
        assignment_arm,
        count(*) as tickets_created,
        count(frt_bm) as n_responded,
        sum(frt_bm) as sum_frt_bm,
        sum(ln(1 + frt_bm)) as sum_ln1p_frt_bm,
        sum(frt_cal_min) as sum_frt_cal_min,
        count(*) filter (where is_frt_sla_breached = false) as n_frt_sla_met,
        count(*) filter (where is_frt_sla_breached) as n_frt_sla_breached,
        count(*) filter (where not is_open_now) as n_closed,
        count(full_resolution_bm) as n_resolved,
        sum(full_resolution_bm) as sum_full_resolution_bm,
        sum(ln(1 + full_resolution_bm)) as sum_ln1p_full_resolution_bm,
        count(*) filter (where is_reopen_eligible) as n_reopen_eligible,
        count(*) filter (where is_reopened_7d) as n_reopened_7d,
        count(*) filter (where is_one_touch) as n_one_touch,
        count(*) filter (where has_bot_suggestion) as n_bot_suggestions_shown,
        count(*) filter (where posted_before_first_response) as n_exposed,
        count(*) filter (where usage_class = 'accepted') as n_accepted,
        count(*) filter (where usage_class = 'edited') as n_edited,
        count(*) filter (where usage_class = 'ignored') as n_ignored,
        percentile_cont(0.5) within group (order by frt_bm) as p50_frt_bm_display,
        percentile_cont(0.9) within group (order by frt_bm) as p90_frt_bm_display,
        bool_and(is_mature_14d) as is_complete
    from joined
    group by 1, 2, 3

),

final as (

    select * from daily

)

select * from final
