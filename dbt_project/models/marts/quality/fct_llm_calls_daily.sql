with

calls as (

    select * from {{ ref('stg_assistant__llm_calls') }}
    where is_llm_call

),

daily as (

    select
        (generated_at at time zone 'Europe/Moscow')::date as generated_date_msk,
        count(*) as llm_calls,
        count(*) filter (where suggestion_mode = 'llm') as llm_suggestions,
        count(*) filter (where fallback_reason = 'llm_unavailable') as fallback_unavailable,
        count(*) filter (where fallback_reason = 'llm_truncated') as fallback_truncated,
        count(*) filter (where fallback_reason = 'llm_context') as fallback_context,
        count(*) filter (where fallback_reason = 'llm_uncited') as fallback_uncited,
        count(*) filter (where fallback_reason = 'llm_invalid') as fallback_invalid,
        count(*) filter (where fallback_reason = 'llm_unsafe') as fallback_unsafe,
        round(
            (percentile_cont(0.5) within group (order by llm_latency_ms))::numeric, 1
        ) as latency_p50_ms,
        round(
            (percentile_cont(0.95) within group (order by llm_latency_ms))::numeric, 1
        ) as latency_p95_ms,
        coalesce(sum(prompt_tokens), 0) as prompt_tokens,
        coalesce(sum(completion_tokens), 0) as completion_tokens
    from calls
    group by 1

),

final as (

    select
        *,
        llm_calls - llm_suggestions as fallbacks,
        round((llm_calls - llm_suggestions)::numeric / llm_calls, 4) as fallback_rate
    from daily

)

select * from final
