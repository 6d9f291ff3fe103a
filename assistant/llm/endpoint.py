"""What one endpoint+model accepts, learned from its answers and kept for the process.

Structured output is asked in the strongest form first and stepped down when the server
rejects it (docs/llm.md, "Structured output"): `json_schema` (OpenAI's shape: vLLM,
SGLang, llama-server, Ollama, LM Studio) → `json_object` carrying the schema too
(llama-cpp-python constrains by `schema`, TGI by `value`) → prompt-only. A rejection is a
400/422 — or llama-cpp-python's 500 — whose text names the parameter. Parameters we add
on our own (thinking off) or the operator adds (`LLM_EXTRA_BODY`) are dropped the same way
when a server refuses them. Each change is logged once, then remembered.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from assistant.llm.context import DEFAULT_CONTEXT_TOKENS, discover_context

logger = logging.getLogger(__name__)

OUTPUT_MODES = ("json_schema", "json_object", "prompt")
# Thinking off: vLLM, SGLang and llama-server read the chat template switch; Ollama's /v1
# ignores it and takes `reasoning_effort: "none"` (servers that refuse a value drop it).
THINKING_OFF: dict[str, Any] = {
    "chat_template_kwargs": {"enable_thinking": False},
    "reasoning_effort": "none",
}
_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "unknown variant")


def response_format(mode: str, schema: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    """The `response_format` field for `mode`; None for prompt-only."""
    if schema is None or mode == "prompt":
        return None
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": True},
        }
    return {"type": "json_object", "schema": schema, "value": schema}


def rejected_parameter(status: int, text: str, body: dict[str, Any]) -> str | None:
    """The optional request field an error status refuses, if it names one we sent."""
    lowered = text.lower()
    if status not in (400, 422, 500):
        return None
    if "response_format" in body and any(word in lowered for word in _FORMAT_WORDS):
        return "response_format"
    if status == 500:
        return None
    for key in body:
        if key != "response_format" and key.lower() in lowered:
            return key
    return None


@dataclass
class EndpointState:
    """What is known about one (base_url, model): output mode, refused fields, window."""

    key: tuple[str, str]
    mode_index: int = 0
    dropped: set[str] = field(default_factory=set)
    context_tokens: int | None = None
    context_source: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def output_mode(self, has_schema: bool) -> str:
        return OUTPUT_MODES[self.mode_index] if has_schema else "prompt"

    def reject(self, parameter: str, status: int, text: str, mode: str) -> None:
        """Step down (response_format) or drop the parameter; log the change once."""
        with self.lock:
            if parameter == "response_format":
                if OUTPUT_MODES[self.mode_index] != mode:
                    return  # another thread stepped down already
                self.mode_index = min(self.mode_index + 1, len(OUTPUT_MODES) - 1)
                change = f"structured output {mode} -> {OUTPUT_MODES[self.mode_index]}"
            elif parameter in self.dropped:
                return
            else:
                self.dropped.add(parameter)
                change = f"request field {parameter!r} dropped"
        logger.warning(
            "LLM %s (%s): %s, the server refused it with HTTP %d: %.200s",
            self.key[1],
            self.key[0],
            change,
            status,
            text,
        )

    def set_context(self, tokens: int, source: str) -> None:
        with self.lock:
            self.context_tokens, self.context_source = tokens, source

    def context(self, base_url: str, model: str, api_key: str | None) -> int:
        """The window: known, else asked from the server once, else the default."""
        with self.lock:
            if self.context_tokens is not None:
                return self.context_tokens
            tokens, source = discover_context(base_url, model, api_key)
            if tokens is None:
                tokens, source = DEFAULT_CONTEXT_TOKENS, "default"
            self.context_tokens, self.context_source = tokens, source
            logger.info("LLM %s context window: %d tokens (%s)", model, tokens, source)
            return tokens


_STATES: dict[tuple[str, str], EndpointState] = {}
_STATES_LOCK = threading.Lock()


def endpoint_state(base_url: str, model: str) -> EndpointState:
    """The process-wide state of one endpoint+model."""
    key = (base_url.rstrip("/"), model)
    with _STATES_LOCK:
        return _STATES.setdefault(key, EndpointState(key))


def forget_endpoints() -> None:
    """Forget everything learned (tests; `kb llm check` probes from scratch)."""
    with _STATES_LOCK:
        _STATES.clear()
