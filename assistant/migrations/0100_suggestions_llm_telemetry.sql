-- What each suggestion's LLM call did (assistant/llm/client.py): the structured-output
-- mode the endpoint accepted, the finish_reason, and why a suggestion fell back to
-- retrieval-only (llm_not_configured, llm_unavailable, llm_truncated, llm_context,
-- llm_uncited, llm_invalid). Token counts and latency already have columns
-- (prompt_tokens, completion_tokens, llm_ms). Read by marts/quality/fct_llm_calls_daily.
alter table assistant.suggestions
    add column if not exists llm_output_mode text,
    add column if not exists llm_finish_reason text,
    add column if not exists fallback_reason text;
