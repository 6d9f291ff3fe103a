-- Every LLM call ends in an LLM suggestion or a fallback with a named reason, so the
-- reasons add up to the fallbacks, and the rate is a share.
with

daily as (

    select * from {{ ref('fct_llm_calls_daily') }}

),

final as (

    select
        generated_date_msk,
        fallbacks,
        fallback_rate
    from daily
    where
        fallbacks != fallback_unavailable + fallback_truncated + fallback_context
        + fallback_uncited + fallback_invalid + fallback_unsafe
        or fallback_rate not between 0 and 1

)

select * from final
