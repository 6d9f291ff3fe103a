"""`kb llm check`: what the configured endpoint can do, found by asking it.

The operator runs it before switching the bot on (docs/llm.md): it lists the models,
finds the context window, tries each structured-output mode and thinking on/off, runs
one sample ticket through the real suggestion prompt and says what the bot will use.
The endpoint is unusable — one clear line, non-zero exit — when the sample ticket gets
no answer at all (down, refused, or every mode failed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from assistant.llm.answer import AnswerError, json_object
from assistant.llm.client import ChatClient, LLMClient, LLMUnavailable
from assistant.llm.endpoint import OUTPUT_MODES, THINKING_OFF, forget_endpoints, response_format
from assistant.llm.prompt import load_prompt
from assistant.settings import AssistantSettings

PROBE_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "enum": ["да", "нет"]}},
    "required": ["answer"],
    "additionalProperties": False,
}
PROBE_SYSTEM = 'Ответь одним JSON-объектом вида {"answer": "да"} или {"answer": "нет"}.'
PROBE_USER = "Москва — столица России?"
SAMPLE_SOURCES = (
    "[S1] (статья базы знаний) Сброс пароля\n[Если письмо не пришло]\nПроверьте папку «Спам»."
    " Ссылка для сброса действует 24 часа; запросите её повторно в «Забыли пароль».\n\n"
    "[S2] (решённая заявка) Не приходит письмо сброса\nПопросили проверить спам и "
    "отправили ссылку повторно — письмо пришло."
)
SAMPLE_TICKET = "Не приходит письмо для сброса пароля, нажимаю «Забыли пароль», спам проверила."


@dataclass
class CheckLine:
    """One finding: what was tried and what the endpoint did."""

    name: str
    ok: bool
    detail: str


@dataclass
class CheckReport:
    """All findings, what the bot will use, and the one-line verdict when unusable."""

    lines: list[CheckLine] = field(default_factory=list)
    will_use: dict[str, Any] = field(default_factory=dict)
    failure: str | None = None

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.lines.append(CheckLine(name, ok, " ".join(detail.split())[:240]))


def run_check(settings: AssistantSettings) -> CheckReport:
    """Probe the configured endpoint; never raises for endpoint trouble."""
    report = CheckReport()
    chat = ChatClient.from_settings(settings, max_retries=0)
    if chat is None:
        report.failure = "no LLM configured: set LLM_BASE_URL and LLM_MODEL"
        return report
    forget_endpoints()  # probe from scratch, as a fresh bot process would
    _models(chat, report)
    window = chat.context_tokens()
    report.add("context", True, f"{window} tokens ({chat.state.context_source})")
    report.will_use["context_tokens"] = window
    thinking_off = _probe_thinking(chat, report)
    for mode in OUTPUT_MODES:  # with thinking off when a switch works: a short probe answer
        _probe_mode(chat, mode, report, thinking_off)
    _sample_ticket(chat, settings, report)
    return report


def _models(chat: ChatClient, report: CheckReport) -> None:
    headers = {"Authorization": f"Bearer {chat.api_key}"} if chat.api_key else {}
    try:
        listed = httpx.get(f"{chat.base_url.rstrip('/')}/models", headers=headers, timeout=10)
        ids = [str(m.get("id")) for m in listed.json().get("data") or []]
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        report.add("models", False, f"GET /models failed: {type(exc).__name__}")
        return
    known = chat.model in ids
    shown = ", ".join(ids[:8]) + (" …" if len(ids) > 8 else "")
    detail = (
        f"{shown or 'none listed'}; LLM_MODEL={chat.model} {'listed' if known else 'NOT listed'}"
    )
    report.add("models", known or not ids, detail)


def _raw(chat: ChatClient, body: dict[str, Any], max_tokens: int = 200) -> tuple[int, Any, float]:
    """One raw request: (HTTP status, the completion as a dict or the error text, seconds)."""
    import openai

    started = time.perf_counter()
    try:
        response = chat.client.chat.completions.create(
            model=chat.model,
            messages=[
                {"role": "system", "content": PROBE_SYSTEM},
                {"role": "user", "content": PROBE_USER},
            ],
            temperature=0.0,
            max_tokens=max_tokens,
            extra_body={**chat.extra_body, **body} or None,
        )
        return 200, response.model_dump(), time.perf_counter() - started
    except openai.APIStatusError as exc:
        return exc.status_code, f"{exc.message}"[:160], time.perf_counter() - started
    except openai.APIError as exc:
        return 0, type(exc).__name__, time.perf_counter() - started


def _probe_mode(
    chat: ChatClient, mode: str, report: CheckReport, thinking_off: dict[str, Any]
) -> None:
    fmt = response_format(mode, PROBE_SCHEMA, "probe")
    status, result, seconds = _raw(
        chat, {**thinking_off, **({"response_format": fmt} if fmt else {})}
    )
    name = f"output {mode}"
    if status != 200:
        report.add(name, False, f"refused: HTTP {status} {result}")
        return
    message = result["choices"][0]["message"]
    calls = message.get("tool_calls") or [{}]
    content = message.get("content") or (calls[0].get("function") or {}).get("arguments") or ""
    try:
        data = json_object(content)
        ok = data.get("answer") in ("да", "нет")
        report.add(name, ok, f"{'valid' if ok else 'off-schema'} JSON in {seconds:.1f} s")
    except AnswerError as exc:
        report.add(name, False, f"answered, but {exc}")


def _has_trace(message: dict[str, Any]) -> bool:
    """A non-empty reasoning trace in a reasoning field or inline before `</think>`."""
    if any(message.get(f) for f in ("reasoning_content", "reasoning")):
        return True
    content = message.get("content") or ""
    close = content.lower().rfind("</think>")
    if close >= 0:
        return bool(content[:close].replace("<think>", "").strip())
    return "<think>" in content.lower()


def _probe_thinking(chat: ChatClient, report: CheckReport) -> dict[str, Any]:
    """Does the model think, where does the trace go, and what turns it off (returned)."""
    status, result, _ = _raw(chat, {}, max_tokens=200)
    if status != 200:
        report.add("thinking", False, f"HTTP {status} {result}")
        return {}
    message = result["choices"][0]["message"]
    if not _has_trace(message):
        report.add("thinking", True, "no reasoning trace seen")
        return {}
    field_name = next((f for f in ("reasoning_content", "reasoning") if message.get(f)), None)
    where = f"in the `{field_name}` field" if field_name else "inline <think>…</think> in content"
    for key, value in THINKING_OFF.items():
        off_status, off, _ = _raw(chat, {key: value}, max_tokens=200)
        if off_status == 200 and not _has_trace(off["choices"][0]["message"]):
            report.add("thinking", True, f"trace {where}; off with {key}={value!r}")
            report.will_use["thinking_off"] = f"{key}={value!r}"
            return {key: value}
    report.add("thinking", True, f"trace {where}; no switch turned it off")
    return {}


def _sample_ticket(chat: ChatClient, settings: AssistantSettings, report: CheckReport) -> None:
    prompt = load_prompt()
    user = (
        prompt.user_template.replace("{category}", "account_access")
        .replace("{sources}", SAMPLE_SOURCES)
        .replace("{ticket}", SAMPLE_TICKET)
    )
    client = LLMClient(chat, max_tokens=settings.llm_max_tokens)
    try:
        result = client.complete_json(prompt.system, user)
    except LLMUnavailable as exc:
        call = exc.call
        report.add("sample ticket", False, f"{exc.reason}: {exc}")
        report.failure = f"LLM endpoint unusable: {exc.reason}: {exc}"
        if call is not None:
            report.will_use["output_mode"] = call.output_mode
        return
    call = result.call
    cited = [c for c in result.reply.cited_source_ids if c.strip("[] ") in ("S1", "S2")]
    report.add(
        "sample ticket",
        bool(cited) and len(result.reply.draft_reply.strip()) >= 20,
        f"{call.latency_ms} ms, {call.prompt_tokens} prompt + {call.completion_tokens} answer "
        f"tokens, finish_reason={call.finish_reason}, cites {cited or 'nothing given'}",
    )
    report.will_use.update(
        output_mode=call.output_mode,
        latency_ms=call.latency_ms,
        dropped_fields=sorted(chat.state.dropped),
    )
