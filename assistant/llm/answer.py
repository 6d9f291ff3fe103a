"""The answer part of a model's text: reasoning traces cut off, then one JSON object.

Hybrid reasoning models (Qwen3 and T-pro/T-lite built on it, served without a reasoning
parser) put `<think>…</think>` before the answer, and the trace is full of braces; some
chat templates open the block in the prompt, so only the closing tag arrives. The answer
is therefore what follows the LAST `</think>`, and JSON is never searched inside a trace
(docs/llm.md, "Reasoning models"). Servers with a reasoning parser move the trace to
`reasoning_content` (vLLM before 0.10) or `reasoning` (vLLM since, Ollama's /v1); the
client never reads those fields.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from assistant.errors import KbError

M = TypeVar("M", bound=BaseModel)
_THINK_CLOSE = "</think>"
_THINK_OPEN = re.compile(r"<think>", re.IGNORECASE)
_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$", re.IGNORECASE)


class AnswerError(KbError):
    """The text holds no usable answer; `truncated` when a trace never closed."""

    def __init__(self, message: str, *, truncated: bool = False) -> None:
        super().__init__(message)
        self.truncated = truncated


def strip_thinking(content: str) -> str:
    """The text after the last `</think>`; an unclosed `<think>` means no answer yet."""
    text = content or ""
    lower = text.lower()
    close = lower.rfind(_THINK_CLOSE)
    if close >= 0:
        return text[close + len(_THINK_CLOSE) :].strip()
    opened = _THINK_OPEN.search(text)
    if opened is not None:
        if text[: opened.start()].strip():
            return text[: opened.start()].strip()
        raise AnswerError("the LLM reply is a reasoning trace that never ended", truncated=True)
    return text.strip()


def json_object(content: str) -> dict[str, Any]:
    """The one JSON object of the answer (a ```json fence or prose around it tolerated)."""
    text = _FENCE.sub("", strip_thinking(content)).strip()
    if not text.startswith("{"):
        start, end = text.find("{"), text.rfind("}")
        text = text[start : end + 1] if 0 <= start < end else text
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnswerError(f"the LLM reply is not JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise AnswerError("the LLM reply is JSON but not an object")
    return data


def validated(content: str, model: type[M]) -> M:
    """The answer's JSON object as `model`; every problem is an `AnswerError`."""
    data = json_object(content)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "reply"
        raise AnswerError(f"the LLM reply has a bad field {where}: {first['msg']}") from exc


def clamp_unit(value: object) -> object:
    """A number clamped into 0..1; anything else unchanged (for the model to reject).

    Schema-constrained decoding guarantees a number, not its range (llama.cpp's JSON
    grammar ignores `minimum`/`maximum`), and a confidence of 1.2 is no reason to lose
    an otherwise valid answer."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return min(1.0, max(0.0, float(value)))
    return value


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`model`'s JSON schema as strict structured output wants it: every property
    required, no extra properties, no titles or defaults (servers differ on those)."""
    schema = model.model_json_schema()
    return _tidy(schema)


def _tidy(node: Any) -> Any:
    if isinstance(node, dict):
        cleaned = {
            key: _tidy(value) for key, value in node.items() if key not in ("title", "default")
        }
        if cleaned.get("type") == "object" and isinstance(cleaned.get("properties"), dict):
            cleaned["required"] = list(cleaned["properties"])
            cleaned["additionalProperties"] = False
        return cleaned
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    return node
