{{ config(materialized='view') }}

with

pairs as (

    select * from {{ ref('int_suggestions_paired_with_replies') }}

),

weekly as (

    select
        created_week_msk as week_start_msk,
        coalesce(category_at_creation, 'unknown') as category_code,
        count(*) as tickets_with_suggestion,
        count(*) filter (where is_no_good_match) as tickets_without_good_match,
        round(
            percentile_cont(0.5) within group (order by top1_score)::numeric, 4
        ) as median_top1_score,
        (array_agg(subject order by created_at) filter (where is_no_good_match))[1:5]
            as example_subjects
    from pairs
    group by 1, 2

),

final as (

    select
        week_start_msk,
        category_code,
        tickets_with_suggestion,
        tickets_without_good_match,
        round(tickets_without_good_match::numeric / tickets_with_suggestion, 4)
            as share_without_good_match,
        median_top1_score,
        example_subjects
    from weekly
    where tickets_without_good_match > 0

)

select * from final
