with

suggestions as (

    {{ source_or_empty('assistant', 'suggestions', [
        ['task_id', 'bigint'],
        ['generated_at', 'timestamptz'],
        ['mode', 'text'],
        ['model', 'text'],
        ['llm_output_mode', 'text'],
        ['llm_finish_reason', 'text'],
        ['fallback_reason', 'text'],
        ['llm_ms', 'integer'],
        ['prompt_tokens', 'integer'],
        ['completion_tokens', 'integer'],
    ]) }}

),

renamed as (

    select
        task_id as ticket_id,
        generated_at,
        mode as suggestion_mode,
        model as llm_model,
        llm_output_mode,
        llm_finish_reason,
        fallback_reason,
        llm_ms as llm_latency_ms,
        prompt_tokens,
        completion_tokens
    from suggestions
    where task_id is not null and generated_at is not null

),

final as (

    select
        *,
        -- the LLM was asked: an LLM suggestion, or a fallback for a reason the call gave
        (
            suggestion_mode = 'llm'
            or coalesce(fallback_reason, '') like 'llm\_%'
            and fallback_reason != 'llm_not_configured'
        ) as is_llm_call
    from renamed

)

select * from final
