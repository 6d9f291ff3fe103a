"""`kb llm check` names each emulated server's capabilities and fails in one clear line."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from assistant.llm.check import run_check
from assistant.llm.endpoint import forget_endpoints
from flows.cli import app
from tests.fakes.llm_server import SERVED_MODEL, FakeLLM, start_fake_llm
from tests.llm.test_server_behaviours import settings_for


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[FakeLLM]:
    emulator = start_fake_llm(profile=request.param)
    yield emulator
    emulator.stop()
    forget_endpoints()


def findings(server: FakeLLM) -> dict[str, str]:
    report = run_check(settings_for(server))
    assert report.failure is None
    return {line.name: f"{'ok' if line.ok else 'no'}: {line.detail}" for line in report.lines}


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        (
            "vllm_qwen3_no_parser",
            {
                "context": "ok: 32768 tokens (/v1/models max_model_len)",
                "output json_schema": "ok: valid",
                "thinking": "inline <think>…</think> in content; off with chat_template_kwargs",
            },
        ),
        (
            "ollama_thinking",
            {
                "context": "ok: 4096 tokens (default)",
                "thinking": "in the `reasoning` field; off with reasoning_effort='none'",
            },
        ),
        (
            "vllm_reasoning_content",
            {"thinking": "in the `reasoning_content` field; off with chat_template_kwargs"},
        ),
        (
            "llama_server",
            {"context": "ok: 4096 tokens (/props n_ctx)", "thinking": "ok: no reasoning trace"},
        ),
        (
            "llama_cpp_python",
            {"output json_schema": "no: refused: HTTP 500", "output json_object": "ok: valid"},
        ),
        ("lm_studio", {"output json_object": "no: refused: HTTP 400"}),
        (
            "tgi",
            {
                "context": "ok: 4096 tokens (/info max_total_tokens)",
                "output json_schema": "no: refused: HTTP 422",
                "output json_object": "ok: valid",
            },
        ),
        ("gpt2giga", {"output json_schema": "ok: valid", "sample ticket": "ok: "}),
    ],
    indirect=["server"],
)
def test_check_names_what_each_server_can_do(server: FakeLLM, expected: dict[str, str]) -> None:
    found = findings(server)
    assert found["models"].startswith(f"ok: {SERVED_MODEL}")
    assert found["sample ticket"].startswith("ok: ")
    for name, fragment in expected.items():
        assert fragment in found[name], (name, found[name])


@pytest.mark.parametrize("server", ["llama_cpp_python"], indirect=True)
def test_the_command_prints_what_will_be_used(
    server: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLM_BASE_URL", server.base_url)
    monkeypatch.setenv("LLM_MODEL", SERVED_MODEL)
    result = CliRunner().invoke(app, ["llm", "check"])
    assert result.exit_code == 0, result.output
    assert "will use: context_tokens=4096" in result.output
    assert "output_mode=json_object" in result.output


def test_an_unreachable_endpoint_exits_non_zero_with_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLM_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("LLM_MODEL", "any")
    monkeypatch.setenv("LLM_TIMEOUT_SECONDS", "2")
    result = CliRunner().invoke(app, ["llm", "check"])
    assert result.exit_code == 1
    assert "LLM endpoint unusable: llm_unavailable" in result.output
