"""The model's context window: how big it is, how much a prompt takes, how to fit one.

Servers do not agree on telling the window (docs/llm.md, "Context budget"): vLLM lists
`max_model_len` per model in `GET /v1/models`, llama.cpp's `llama-server` reports `n_ctx`
in `GET /props`, TGI `max_total_tokens` in `GET /info`, others say nothing.
`LLM_CONTEXT_TOKENS` wins; without it and without an answer the window is
`DEFAULT_CONTEXT_TOKENS`, llama-server's default.

Tokens are estimated, not counted: we do not have the model's tokenizer. The estimate is
deliberately high: Cyrillic costs a BPE tokenizer up to a token per two characters, and
digits and punctuation a token each (Gemma and Qwen split numbers into digits — a pasted
log of 9,000 characters measured 5,290 Gemma tokens, docs/llm.md), other text about a
token per three characters.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from typing import Any

import httpx

logger = logging.getLogger(__name__)

DEFAULT_CONTEXT_TOKENS = 4096
MESSAGE_OVERHEAD_TOKENS = 8  # role markers and separators a chat template adds per message
SAFETY_TOKENS = 64  # the template's fixed text (BOS, generation prompt) and estimate error
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_SINGLE = re.compile(r"[^\w\s]|\d")  # digits and punctuation: a token each
_LIMIT_PATTERNS = (
    re.compile(r"maximum context length is (\d+)", re.IGNORECASE),  # vLLM, llama-cpp-python
    re.compile(r"context (?:size|window|length) (?:of |is )?\(?(\d+)", re.IGNORECASE),
)
_OVERFLOW_WORDS = ("exceed_context_size", "context length", "context size", "context window")


def estimate_tokens(text: str) -> int:
    """A conservative token count: digits and punctuation 1 each, Cyrillic at 2 characters
    a token, the rest at 3."""
    if not text:
        return 0
    cyrillic = len(_CYRILLIC.findall(text))
    single = len(_SINGLE.findall(text))
    return math.ceil(single + cyrillic / 2 + (len(text) - cyrillic - single) / 3)


def prompt_tokens(*messages: str) -> int:
    """Estimated tokens of a chat prompt made of these message texts."""
    return sum(estimate_tokens(m) + MESSAGE_OVERHEAD_TOKENS for m in messages) + SAFETY_TOKENS


def shorten(text: str, max_tokens: int) -> str:
    """`text` cut to about `max_tokens`, keeping its head and its tail.

    A pasted log says what was done at the top and what failed at the bottom, so the
    middle goes; the cut is marked for the model."""
    if estimate_tokens(text) <= max_tokens:
        return text
    ratio = max(max_tokens, 0) / max(estimate_tokens(text), 1)
    keep = max(int(len(text) * ratio) - 40, 0)
    head = keep * 3 // 5
    tail = keep - head
    skipped = len(text) - head - tail
    end = text[-tail:].lstrip() if tail else ""
    return f"{text[:head].rstrip()}\n[… пропущено {skipped} символов …]\n{end}"


def fit_parts(
    fixed: str, sources: Sequence[str], ticket: str, budget_tokens: int, *, min_ticket: int = 200
) -> tuple[list[str], str]:
    """The sources and ticket text that fit `budget_tokens` next to `fixed` text.

    Sources go from the lowest rank up (at least one stays), then the ticket is
    shortened (head and tail kept), then the last source itself. What still does not
    fit is returned as it is: the server's answer decides, and a too-small window
    shows up as `llm_context`."""
    kept = list(sources)

    def total(parts: Sequence[str], text: str) -> int:
        return estimate_tokens(fixed) + sum(map(estimate_tokens, parts)) + estimate_tokens(text)

    while len(kept) > 1 and total(kept, ticket) > budget_tokens:
        kept.pop()
    if total(kept, ticket) > budget_tokens:
        room = budget_tokens - total(kept, "")
        ticket = shorten(ticket, max(room, min_ticket))
    if kept and total(kept, ticket) > budget_tokens:
        room = budget_tokens - total(kept[:-1], ticket)
        kept[-1] = shorten(kept[-1], max(room, 50))
    return kept, ticket


def overflow_limit(status: int, message: str, body: Any) -> int | None:
    """The window a context-overflow error names, 0 when it names none, None if not one.

    llama-server: HTTP 400 `{"error": {"type": "exceed_context_size_error", "n_ctx": N}}`;
    vLLM and llama-cpp-python: HTTP 400 "This model's maximum context length is N tokens"."""
    if status not in (400, 413, 422):
        return None
    error = body.get("error", body) if isinstance(body, dict) else {}
    if isinstance(error, dict) and isinstance(error.get("n_ctx"), int):
        return int(error["n_ctx"])
    text = f"{message} {body}"
    if not any(word in text.lower() for word in _OVERFLOW_WORDS):
        return None
    for pattern in _LIMIT_PATTERNS:
        found = pattern.search(text)
        if found:
            return int(found.group(1))
    return 0


def discover_context(
    base_url: str, model: str, api_key: str | None, timeout: float = 5.0
) -> tuple[int | None, str]:
    """The window the server reports for `model` and where it came from, or (None, "")."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    base = base_url.rstrip("/")
    root = base[: -len("/v1")] if base.endswith("/v1") else base
    with httpx.Client(timeout=timeout, headers=headers) as client:
        try:
            listed = client.get(f"{base}/models")
            if listed.status_code == 200:
                for entry in listed.json().get("data") or []:
                    if isinstance(entry, dict) and entry.get("id") == model:
                        for key in ("max_model_len", "context_length", "max_context_length"):
                            if isinstance(entry.get(key), int) and entry[key] > 0:
                                return int(entry[key]), f"/v1/models {key}"
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            logger.debug("GET /models failed: %s", exc)
        try:
            props = client.get(f"{root}/props")
            if props.status_code == 200:
                data = props.json()
                settings = data.get("default_generation_settings") or {}
                for value in (settings.get("n_ctx"), data.get("n_ctx")):
                    if isinstance(value, int) and value > 0:
                        return int(value), "/props n_ctx"
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            logger.debug("GET /props failed: %s", exc)
        try:
            info = client.get(f"{root}/info")
            if info.status_code == 200 and isinstance(info.json().get("max_total_tokens"), int):
                return int(info.json()["max_total_tokens"]), "/info max_total_tokens"
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            logger.debug("GET /info failed: %s", exc)
    return None, ""
