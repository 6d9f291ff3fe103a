"""One chat call as the rest of the code sees it: its outcome, its facts, its failure.

Kept apart from the client (`assistant/llm/client.py`) so the wire details — reading a
completion, carrying an error status — stay out of the retry logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant.errors import KbError


class LLMUnavailable(KbError):
    """The LLM gave no usable answer; `reason` names why for the suggestion log."""

    def __init__(self, message: str, *, reason: str = "llm_unavailable", call: Any = None):
        super().__init__(message)
        self.reason = reason
        self.call: CallInfo | None = call


@dataclass
class CallInfo:
    """What the suggestion log records about one chat (with its retries)."""

    model: str
    output_mode: str = ""  # json_schema | json_object | prompt
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: int = 0
    attempts: int = 0
    notes: list[str] = field(default_factory=list)


class CallFacts:
    """`model` and token counts read from the `call` of a response or result."""

    call: CallInfo

    @property
    def model(self) -> str:
        return self.call.model

    @property
    def prompt_tokens(self) -> int | None:
        return self.call.prompt_tokens

    @property
    def completion_tokens(self) -> int | None:
        return self.call.completion_tokens


@dataclass(frozen=True)
class ChatResponse(CallFacts):
    """The answer text (reasoning trace removed by the caller's parser) and the call."""

    content: str
    call: CallInfo


class StatusError(Exception):
    """An HTTP error status with its text and parsed body, for the step-down logic."""

    def __init__(self, status: int, text: str, body: Any) -> None:
        super().__init__(text)
        self.status, self.text, self.body = status, f"{text} {body}", body


def unpack(response: Any) -> tuple[str, str | None, tuple[int | None, int | None]]:
    """Content, finish_reason and token usage of a completion.

    `reasoning` / `reasoning_content` are never read. A proxy that answers structured
    output as a forced function call (gpt2giga) may leave the content empty and put the
    object in the call's arguments; those are the answer then."""
    choices = getattr(response, "choices", None)
    if not choices or choices[0].message is None:
        raise LLMUnavailable("the LLM reply has no choices")
    message = choices[0].message
    content = message.content or ""
    if not content.strip():
        calls = getattr(message, "tool_calls", None) or []
        function_call = getattr(message, "function_call", None)
        for fn in [getattr(c, "function", None) for c in calls] + [function_call]:
            arguments = getattr(fn, "arguments", None)
            if arguments:
                content = arguments if isinstance(arguments, str) else str(arguments)
                break
    usage = getattr(response, "usage", None)
    tokens = (
        getattr(usage, "prompt_tokens", None) if usage else None,
        getattr(usage, "completion_tokens", None) if usage else None,
    )
    return content, getattr(choices[0], "finish_reason", None), tokens
