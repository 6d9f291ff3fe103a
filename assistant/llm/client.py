"""The organisation's OpenAI-compatible LLM, asked for one JSON object per ticket.

Every failure a model server can produce (down, slow, HTTP 5xx, a reply that is not
the JSON we asked for) becomes `LLMUnavailable`, so the caller has exactly one thing
to handle: fall back to a retrieval-only suggestion. Timeouts are explicit and
retries few, because the bot must finish well inside Pyrus's patience and a hung
model must not hold an inbox job for minutes.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from assistant.errors import KbError
from assistant.settings import AssistantSettings

logger = logging.getLogger(__name__)


class LLMUnavailable(KbError):
    """The LLM could not give a usable answer (down, slow, error status or bad JSON)."""


class LLMReply(BaseModel):
    """The JSON object the prompt asks for."""

    recommendation_steps: list[str] = Field(default_factory=list, max_length=12)
    cited_source_ids: list[str] = Field(default_factory=list, max_length=20)
    draft_reply: str = ""
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)

    @field_validator("recommendation_steps", "cited_source_ids", mode="before")
    @classmethod
    def _strings(cls, value: object) -> object:
        """Models sometimes send numbers as ids or a single string as a list."""
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [str(item) for item in value if item is not None and str(item).strip()]
        return value


@dataclass(frozen=True)
class LLMResult:
    """A parsed reply plus what the suggestion log records about the call."""

    reply: LLMReply
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None


_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$", re.IGNORECASE)


def parse_reply(content: str) -> LLMReply:
    """Parse the model's text as our JSON object; anything else is `LLMUnavailable`."""
    text = _FENCE.sub("", content or "").strip()
    if not text.startswith("{"):
        start, end = text.find("{"), text.rfind("}")
        text = text[start : end + 1] if 0 <= start < end else text
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LLMUnavailable(f"the LLM reply is not JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise LLMUnavailable("the LLM reply is JSON but not an object")
    try:
        return LLMReply.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise LLMUnavailable(
            f"the LLM reply has a bad field {'.'.join(map(str, first['loc']))}: {first['msg']}"
        ) from exc


@dataclass(frozen=True)
class ChatResponse:
    """The text of one chat completion and what the suggestion log records about it."""

    content: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None


class ChatClient:
    """One OpenAI-compatible chat endpoint: our timeouts, few retries, one error mapping.

    Both LLM uses (the bot's suggestion, the categorization fallback) call `chat`; every
    failure a model server can produce becomes `LLMUnavailable` here, in one place.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_seconds: float = 30.0,
        max_retries: int = 1,
    ) -> None:
        self.model = model
        import openai  # lazy: ~1 s of imports, paid only when an LLM is configured

        self.client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            timeout=timeout_seconds,
            max_retries=max_retries,
        )

    @classmethod
    def from_settings(
        cls, settings: AssistantSettings, *, max_retries: int | None = None
    ) -> ChatClient | None:
        """The configured endpoint, or None when no LLM is configured."""
        if not settings.llm_base_url or not settings.llm_model:
            return None
        return cls(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
            timeout_seconds=settings.llm_timeout_seconds,
            max_retries=settings.llm_max_retries if max_retries is None else max_retries,
        )

    def chat(self, system: str, user: str, *, temperature: float, max_tokens: int) -> ChatResponse:
        """One chat completion (system + user message); every failure is `LLMUnavailable`."""
        import openai

        try:
            response = self.client.chat.completions.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
                temperature=temperature,
                max_tokens=max_tokens,
            )
        except openai.APITimeoutError as exc:
            raise LLMUnavailable(f"the LLM did not answer in time ({self.model})") from exc
        except openai.APIStatusError as exc:
            raise LLMUnavailable(f"the LLM returned HTTP {exc.status_code}") from exc
        except openai.APIError as exc:
            raise LLMUnavailable(f"the LLM call failed: {type(exc).__name__}") from exc
        except (ValueError, TypeError) as exc:  # a body that is not a completion at all
            raise LLMUnavailable(f"the LLM reply is malformed: {exc}") from exc
        choices = getattr(response, "choices", None)
        if not choices or choices[0].message is None:
            raise LLMUnavailable("the LLM reply has no choices")
        usage = getattr(response, "usage", None)
        return ChatResponse(
            content=choices[0].message.content or "",
            model=str(getattr(response, "model", None) or self.model),
            prompt_tokens=getattr(usage, "prompt_tokens", None) if usage else None,
            completion_tokens=getattr(usage, "completion_tokens", None) if usage else None,
        )


class LLMClient:
    """The bot's use of the chat endpoint: one JSON suggestion object per ticket."""

    def __init__(self, chat: ChatClient | None = None, *, max_tokens: int = 1200, **endpoint: Any):
        """Wrap `chat`, or build one from `endpoint` (base_url, model, api_key, timeouts)."""
        self.chat = chat if chat is not None else ChatClient(**endpoint)
        self.model = self.chat.model
        self.max_tokens = max_tokens

    def complete_json(self, system: str, user: str) -> LLMResult:
        """One chat completion, parsed as `LLMReply`; every failure is `LLMUnavailable`."""
        response = self.chat.chat(system, user, temperature=0.1, max_tokens=self.max_tokens)
        return LLMResult(
            reply=parse_reply(response.content),
            model=response.model,
            prompt_tokens=response.prompt_tokens,
            completion_tokens=response.completion_tokens,
        )


def llm_from_settings(settings: AssistantSettings) -> LLMClient | None:
    """The configured client, or None when no LLM is configured (retrieval-only mode)."""
    chat = ChatClient.from_settings(settings)
    return None if chat is None else LLMClient(chat)
