{{ config(materialized='view') }}

with

pairs as (

    select * from {{ ref('int_suggestions_paired_with_replies') }}

),

missed as (

    select * from {{ ref('int_used_documents_missed') }}

),

missed_weekly as (

    select
        week_start_msk,
        category_code,
        count(distinct ticket_id) as tickets_used_document_missed,
        array_agg(distinct document_id) as missed_used_document_ids
    from missed
    group by 1, 2

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
        weekly.week_start_msk,
        weekly.category_code,
        weekly.tickets_with_suggestion,
        weekly.tickets_without_good_match,
        round(weekly.tickets_without_good_match::numeric / weekly.tickets_with_suggestion, 4)
            as share_without_good_match,
        weekly.median_top1_score,
        weekly.example_subjects,
        coalesce(missed_weekly.tickets_used_document_missed, 0) as tickets_used_document_missed,
        missed_weekly.missed_used_document_ids
    from weekly
    left join missed_weekly
        on
            weekly.week_start_msk = missed_weekly.week_start_msk
            and weekly.category_code = missed_weekly.category_code
    where
        weekly.tickets_without_good_match > 0
        or missed_weekly.tickets_used_document_missed > 0

)

select * from final
