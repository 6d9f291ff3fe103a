"""The bot's LLM path and the categorization fallback against a real model server.

llama-cpp-python's server with Gemma 3 270M (tests/llm/real_server.py). Its quirks are
real ones the client must survive: `json_schema` answered with HTTP 500, the schema
honoured as `{"type": "json_object", "schema": …}`, no context size reported, an overflow
refused with HTTP 400 naming the window. A base model: asserted is the protocol — the
answer parses as the schema, the categories come from the taxonomy's enum, the prompt
fits — not the quality of its words. About a minute a test on 2 shared cores.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.bot.suggest import Suggester
from assistant.categorization.llm_fallback import LLMClassifier
from assistant.llm.client import llm_from_settings
from assistant.llm.endpoint import endpoint_state, forget_endpoints
from assistant.settings import AssistantSettings
from tests.bot.test_suggest import FakeCategorizer, FakeRetriever
from tests.llm.real_server import MISSING, MODEL_ALIAS, N_CTX, RealServer, start_real_server
from tests.llm.test_server_behaviours import PASTED_LOG, TAXONOMY, TICKETS, docs
from tests.llm.test_server_behaviours import settings_for as settings_with

pytestmark = [
    pytest.mark.slow,
    pytest.mark.llm_server,
    pytest.mark.skipif(MISSING is not None, reason=str(MISSING)),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    running = start_real_server(Path(tmp_path_factory.mktemp("llama")))
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def fresh_endpoint_memory() -> Iterator[None]:
    forget_endpoints()
    yield
    forget_endpoints()


def settings_for(server: RealServer, **extra: object) -> AssistantSettings:
    return settings_with(server, model=MODEL_ALIAS, llm_timeout_seconds=300, **extra)


def test_a_ticket_with_a_pasted_log_gets_a_schema_answer(
    server: RealServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="assistant.llm.endpoint")
    bot = Suggester(
        FakeRetriever(docs(), threshold=0.0),
        FakeCategorizer(),
        llm_from_settings(settings_for(server)),
    )
    suggestion = bot.suggest(*TICKETS[1])
    # json_schema → HTTP 500 → json_object with the schema, constrained by grammar
    assert any("json_schema -> json_object" in r.getMessage() for r in caplog.records)
    assert suggestion.llm_output_mode == "json_object"
    assert suggestion.llm_finish_reason == "stop"
    assert suggestion.fallback_reason in (None, "llm_uncited", "llm_invalid"), suggestion.llm_error
    assert "not JSON" not in (suggestion.llm_error or "")
    assert suggestion.prompt_tokens is not None
    assert suggestion.prompt_tokens < N_CTX


def test_the_categorization_fallback_answers_from_the_taxonomy(server: RealServer) -> None:
    classifier = LLMClassifier.from_settings(settings_for(server), TAXONOMY)
    assert classifier is not None
    answer = classifier.classify("Не могу войти в мобильное приложение, пишет ошибку входа")
    assert answer.category_code in TAXONOMY  # the enum in the schema leaves no other choice


def test_an_overflow_is_refitted_to_the_window_the_server_names(server: RealServer) -> None:
    settings = settings_for(server, llm_context_tokens=16384)
    bot = Suggester(
        FakeRetriever(docs(), threshold=0.0), FakeCategorizer(), llm_from_settings(settings)
    )
    suggestion = bot.suggest("Ошибка синхронизации", f"Лог:\n{PASTED_LOG}\n{PASTED_LOG}")
    assert suggestion.fallback_reason != "llm_context", suggestion.llm_error
    assert suggestion.llm_finish_reason == "stop"
    state = endpoint_state(server.base_url, MODEL_ALIAS)
    assert (state.context_tokens, state.context_source) == (N_CTX, "HTTP 400 overflow error")
