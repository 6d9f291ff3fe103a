"""Token estimate, prompt fitting, overflow errors and reasoning traces, case by case."""

from __future__ import annotations

import pytest

from assistant.llm.answer import AnswerError, json_object, strict_schema, strip_thinking
from assistant.llm.client import LLMReply
from assistant.llm.context import estimate_tokens, fit_parts, overflow_limit, shorten
from tests.llm.test_server_behaviours import PASTED_LOG


def test_the_estimate_stays_above_gemmas_measured_counts() -> None:
    # measured with Gemma 3 270M under llama-cpp-python (docs/llm.md): 9,000 characters of
    # this log are 5,290 tokens; the estimate must not fall below a real tokenizer
    assert estimate_tokens(PASTED_LOG) >= 5290
    assert estimate_tokens("привет мир") >= 5  # Cyrillic: 2 characters a token at most


def test_fitting_drops_low_ranked_sources_then_keeps_head_and_tail_of_the_ticket() -> None:
    sources = [f"[S{i}] " + "источник " * 200 for i in range(1, 5)]
    ticket = "НАЧАЛО " + PASTED_LOG + " КОНЕЦ"
    kept, fitted = fit_parts("инструкция", sources, ticket, budget_tokens=2000)
    assert kept == sources[:1]  # the best source stays, the others went from the bottom up
    assert fitted.startswith("НАЧАЛО")
    assert fitted.endswith("КОНЕЦ")
    assert "пропущено" in fitted
    assert (
        estimate_tokens("инструкция") + sum(map(estimate_tokens, kept)) + estimate_tokens(fitted)
        <= 2000
    )


def test_a_short_text_is_not_shortened() -> None:
    assert shorten("коротко", 100) == "коротко"


@pytest.mark.parametrize(
    ("status", "message", "body", "limit"),
    [
        (
            400,
            "request (5290 tokens) exceeds the available context size (4096 tokens)",
            {"error": {"type": "exceed_context_size_error", "n_ctx": 4096}},
            4096,
        ),
        (400, "This model's maximum context length is 8192 tokens. However, you…", {}, 8192),
        (400, "context length exceeded", {}, 0),  # an overflow that names no limit
        (400, "response_format: unknown variant", {}, None),
        (500, "maximum context length is 8192", {}, None),
    ],
)
def test_overflow_errors_and_the_limit_they_name(
    status: int, message: str, body: dict[str, object], limit: int | None
) -> None:
    assert overflow_limit(status, message, body) == limit


def test_the_answer_follows_the_last_closing_tag() -> None:
    trace = '<think>{"draft_reply": "нет"} и ещё {скобки}</think>\n{"draft_reply": "да"}'
    assert json_object(trace) == {"draft_reply": "да"}
    lone = 'думаю {x}…\n</think>\n\n{"draft_reply": "да"}'  # the template opened the block
    assert json_object(lone) == {"draft_reply": "да"}


def test_an_unclosed_trace_is_a_truncation_not_an_answer() -> None:
    with pytest.raises(AnswerError) as caught:
        strip_thinking('<think>{"draft_reply": "внутри рассуждения"}')
    assert caught.value.truncated


def test_the_schema_is_strict() -> None:
    schema = strict_schema(LLMReply)
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"])
    assert "title" not in schema
