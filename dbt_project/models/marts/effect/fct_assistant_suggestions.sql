{#- A view: the score stage writes outcomes after the marts stage, so a table would lag
    a day behind. -#}
{{ config(materialized='view') }}

with

pairs as (

    select * from {{ ref('int_suggestions_paired_with_replies') }}

),

outcomes as (

    select * from {{ ref('stg_assistant__suggestion_outcomes') }}

),

final as (

    select
        pairs.ticket_id as suggestion_id,
        pairs.ticket_id,
        'first' as suggestion_kind,
        pairs.arm,
        pairs.arm = 'treatment' as is_shown,
        pairs.origin,
        pairs.mode,
        pairs.category_at_creation,
        pairs.created_at,
        pairs.created_week_msk,
        pairs.decided_at,
        pairs.generated_at,
        pairs.posted_at,
        pairs.first_response_at,
        pairs.is_replied,
        pairs.is_exposed,
        {{ calendar_minutes('pairs.created_at', 'pairs.posted_at') }} as latency_cal_min,
        case
            when pairs.is_exposed then
                {{ business_minutes('pairs.posted_at', 'pairs.first_response_at') }}
        end as lead_time_bm,
        pairs.draft_source,
        pairs.reply_comment_id as matched_reply_comment_id,
        pairs.is_no_good_match,
        pairs.top1_score,
        pairs.retrieved_hits,
        jsonb_array_length(pairs.cited_chunk_ids) as n_cited_chunks,
        outcomes.sim_char,
        outcomes.draft_retention,
        coalesce(
            outcomes.usage_class,
            case
                when pairs.arm = 'holdout' then 'shadow'
                when not pairs.is_replied then 'no_reply_yet'
                when not pairs.is_exposed then 'not_exposed'
            end,
            'not_scored'
        ) as usage_class,
        outcomes.chance_class,
        outcomes.cited_sources,
        outcomes.cited_sources_used,
        pairs.assistant_feedback as agent_feedback,
        outcomes.accepted_threshold,
        outcomes.edited_threshold,
        outcomes.calibration_pairs,
        outcomes.scored_at
    from pairs
    left join outcomes on pairs.ticket_id = outcomes.ticket_id

)

select * from final
