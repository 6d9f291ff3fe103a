{#- A view: joins the estimates the effect stage writes after the marts stage. -#}
{{ config(materialized='view') }}

with

tickets as (

    select * from {{ ref('fct_tickets') }}

),

estimates as (

    select * from {{ ref('stg_kb__effect_estimates') }}

),

labels as (

    select * from {{ ref('effect_labels') }}

),

categories as (

    select * from {{ ref('categories') }}

),

-- Each ticket once per segment: its category and ALL.
segmented as (

    select
        *,
        coalesce(category_code_at_creation, 'unknown') as segment
    from tickets
    union all
    select
        *,
        'ALL' as segment
    from tickets

),

-- Which side of each comparison a ticket is on. post_vs_pre compares the treatment arm
-- with the pre-rollout period: the bundle "ETL + assistant" plus everything else that
-- changed over time (see method in the estimates for the DiD that removes the trend).
sides as (

    select
        segmented.*,
        comparisons.comparison,
        comparisons.side
    from segmented
    inner join (
        values
        ('treatment_vs_holdout', 'holdout', 'control'),
        ('treatment_vs_holdout', 'treatment', 'treated'),
        ('post_vs_pre', 'pre_rollout', 'control'),
        ('post_vs_pre', 'treatment', 'treated')
    ) as comparisons (comparison, arm, side)
        on segmented.assignment_arm = comparisons.arm

),

-- One value per ticket and metric; resolution only for matured (14-day) cohorts.
observations as (

    select
        segment,
        comparison,
        side,
        'frt_bm' as metric,
        frt_bm::float as metric_value
    from sides
    where frt_bm is not null
    union all
    select
        segment,
        comparison,
        side,
        'frt_cal_min' as metric,
        frt_cal_min::float as metric_value
    from sides
    where frt_cal_min is not null
    union all
    select
        segment,
        comparison,
        side,
        'full_resolution_bm' as metric,
        full_resolution_bm::float as metric_value
    from sides
    where full_resolution_bm is not null and is_mature_14d
    union all
    select
        segment,
        comparison,
        side,
        'frt_sla_attainment' as metric,
        case when is_frt_sla_breached then 0.0 else 1.0 end as metric_value
    from sides
    where is_frt_sla_breached is not null
    union all
    select
        segment,
        comparison,
        side,
        'reopen_rate_7d' as metric,
        case when is_reopened_7d then 1.0 else 0.0 end as metric_value
    from sides
    where is_reopened_7d is not null

),

summarised as (

    select
        segment,
        comparison,
        metric,
        case when metric in ('frt_sla_attainment', 'reopen_rate_7d') then 'rate' else 'median' end
            as statistic,
        count(*) filter (where side = 'control') as n_control,
        count(*) filter (where side = 'treated') as n_treated,
        case
            when metric in ('frt_sla_attainment', 'reopen_rate_7d')
                then avg(metric_value) filter (where side = 'control')
            else percentile_cont(0.5) within group (order by metric_value) filter (where side = 'control')
        end as control_value,
        case
            when metric in ('frt_sla_attainment', 'reopen_rate_7d')
                then avg(metric_value) filter (where side = 'treated')
            else percentile_cont(0.5) within group (order by metric_value) filter (where side = 'treated')
        end as treated_value,
        case
            when metric not in ('frt_sla_attainment', 'reopen_rate_7d') then
                percentile_cont(0.75) within group (order by metric_value) filter (where side = 'control')
        end as control_p75,
        case
            when metric not in ('frt_sla_attainment', 'reopen_rate_7d') then
                percentile_cont(0.75) within group (order by metric_value) filter (where side = 'treated')
        end as treated_p75
    from observations
    group by 1, 2, 3

),

final as (

    select
        summarised.segment,
        summarised.comparison,
        summarised.metric,
        coalesce(segment_labels.name_ru, categories.name_ru, summarised.segment)
            as segment_name_ru,
        coalesce(comparison_labels.name_ru, summarised.comparison) as comparison_name_ru,
        coalesce(metric_labels.name_ru, summarised.metric) as metric_name_ru,
        metric_labels.unit_ru as metric_unit_ru,
        summarised.statistic,
        summarised.n_control,
        summarised.n_treated,
        summarised.control_value,
        summarised.treated_value,
        summarised.control_p75,
        summarised.treated_p75,
        case
            when summarised.control_value > 0
                then summarised.treated_value / summarised.control_value - 1
        end as raw_rel_change,
        summarised.n_control < 20 or summarised.n_treated < 20 as is_small_sample,
        estimates.method as estimate_method,
        method_labels.name_ru as estimate_method_name_ru,
        estimates.rel_change as estimate_rel_change,
        estimates.ci95_low as estimate_ci95_low,
        estimates.ci95_high as estimate_ci95_high,
        estimates.mde_80 as estimate_mde_80,
        estimates.is_powered as estimate_is_powered,
        estimates.category_standardised as estimate_category_standardised,
        estimates.estimated_at
    from summarised
    left join estimates
        on
            summarised.metric = estimates.metric
            and summarised.segment = estimates.segment
            and summarised.comparison = estimates.comparison
    left join labels as metric_labels
        on metric_labels.kind = 'metric' and summarised.metric = metric_labels.code
    left join labels as comparison_labels
        on comparison_labels.kind = 'comparison' and summarised.comparison = comparison_labels.code
    left join labels as segment_labels
        on segment_labels.kind = 'segment' and summarised.segment = segment_labels.code
    left join labels as method_labels
        on method_labels.kind = 'method' and estimates.method = method_labels.code
    left join categories
        on summarised.segment = categories.category_code

)

select * from final
