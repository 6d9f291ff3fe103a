"""Turn a signed webhook body into a payload the database can store, or say why not.

Everything Pyrus signs reaches `check_payload`. A body that is not a Pyrus bot payload
(empty, an array, wrong types, an id that does not fit `bigint`, `NaN`, nesting past
`MAX_DEPTH`) is an `InvalidPayload` with a one-line reason (the webhook answers 400 and
keeps a dead letter). Text Postgres cannot hold but a person can still read — NUL
characters (e-mail-derived comments carry them) and lone UTF-16 surrogates — is cleaned
instead: NULs dropped, surrogates replaced by U+FFFD, and the cleaning listed in `notes`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from assistant.bot.pyrus_models import WebhookPayload
from assistant.errors import KbError

MAX_DEPTH = 64
"""A Pyrus task nests ~10 levels (task → fields → table → rows → cells → value)."""

_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidPayload(KbError):
    """The body is not a Pyrus bot payload (bad JSON, no task…)."""

    def __init__(self, message: str, *, task_id: int | None = None) -> None:
        super().__init__(message)
        self.task_id = task_id


@dataclass(frozen=True)
class CheckedPayload:
    """A validated payload and the cleaning it needed (empty when none)."""

    payload: WebhookPayload
    notes: tuple[str, ...] = ()


def _too_deep(data: Any, limit: int) -> bool:
    """Depth check without recursion (a hostile body must not exhaust the stack)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)
    return False


def _clean(node: Any, counts: dict[str, int]) -> Any:
    if isinstance(node, str):
        if "\x00" in node:
            counts["NUL characters removed"] += node.count("\x00")
            node = node.replace("\x00", "")
        if _SURROGATE.search(node):
            counts["lone surrogates replaced"] += len(_SURROGATE.findall(node))
            node = _SURROGATE.sub("\ufffd", node)
        return node
    if isinstance(node, dict):
        return {_clean(key, counts): _clean(value, counts) for key, value in node.items()}
    if isinstance(node, list):
        return [_clean(value, counts) for value in node]
    return node


def _no_constant(name: str) -> Any:
    raise InvalidPayload(f"body is not valid JSON: {name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidPayload(f"body is not valid JSON: number {text[:40]} is out of range")
    return value


def _task_id(data: dict[str, Any]) -> int | None:
    task = data.get("task")
    value = task.get("id") if isinstance(task, dict) else data.get("task_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def check_payload(body: bytes) -> CheckedPayload:
    """Decode, bound, clean and validate; every refusal is an `InvalidPayload`."""
    if not body.strip():
        raise InvalidPayload("empty body: expected a Pyrus bot payload (JSON object)")
    try:
        data = json.loads(body, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError as exc:
        raise InvalidPayload("body is not valid JSON: nested too deeply") from exc
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, >4300-digit ints
        reason = " ".join(str(exc).split())[:200]
        raise InvalidPayload(f"body is not valid JSON: {reason}") from exc
    if not isinstance(data, dict):
        raise InvalidPayload("body must be a JSON object")
    task_id = _task_id(data)
    if _too_deep(data, MAX_DEPTH):
        raise InvalidPayload(f"JSON nested too deeply (over {MAX_DEPTH} levels)", task_id=task_id)
    if not isinstance(data.get("task"), dict):
        raise InvalidPayload("payload has no task object", task_id=task_id)
    counts: dict[str, int] = {"NUL characters removed": 0, "lone surrogates replaced": 0}
    data = _clean(data, counts)
    try:
        payload = WebhookPayload.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidPayload(
            f"invalid payload field {where}: {first['msg']}", task_id=task_id
        ) from exc
    if payload.task_id is not None and payload.task_id != payload.task.id:
        raise InvalidPayload(
            f"task_id {payload.task_id} differs from task.id {payload.task.id}", task_id=task_id
        )
    notes = tuple(f"{what}: {n}" for what, n in counts.items() if n)
    return CheckedPayload(payload=payload, notes=notes)


def parse_payload(body: bytes) -> WebhookPayload:
    """The validated payload only (see `check_payload`)."""
    return check_payload(body).payload
