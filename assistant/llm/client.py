"""The organisation's OpenAI-compatible LLM: one chat client for every use.

Model servers differ in what they accept and how they fail (docs/llm.md). `ChatClient.chat`
absorbs the differences in one place:

- structured output is asked by schema and stepped down `json_schema` → `json_object` →
  prompt-only when the server rejects it (`assistant/llm/endpoint.py` remembers what works);
- a reply cut at `max_tokens` (`finish_reason == "length"`, usually a reasoning trace) is
  retried once with thinking off and twice the budget;
- the prompt is fitted to the model's window (`assistant/llm/context.py`) and, on an
  overflow error that names the window, rebuilt for it and sent once more.

Every failure is `LLMUnavailable` with a `reason` the suggestion log records:
`llm_unavailable` (down, slow, error status), `llm_truncated`, `llm_context`,
`llm_invalid` (an answer that is not the JSON asked for).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, field_validator

from assistant.llm.answer import AnswerError, clamp_unit, strict_schema, validated
from assistant.llm.call import (
    CallFacts,
    CallInfo,
    ChatResponse,
    LLMUnavailable,
    StatusError,
    unpack,
)
from assistant.llm.context import SAFETY_TOKENS, overflow_limit, prompt_tokens
from assistant.llm.endpoint import (
    THINKING_OFF,
    EndpointState,
    endpoint_state,
    rejected_parameter,
    response_format,
)
from assistant.settings import AssistantSettings

logger = logging.getLogger(__name__)

MIN_USER_TOKENS = 800  # sources and ticket of a useful prompt
MIN_ANSWER_TOKENS = 400  # a short suggestion in Russian with its JSON keys
UserMessage = str | Callable[[int], str]
"""A user message, or a builder given the tokens it may take (to fit the window)."""


class ChatClient:
    """One OpenAI-compatible chat endpoint: our timeouts, few retries, one error mapping."""

    MAX_ATTEMPTS = 8  # step-downs (≤ 4), one overflow retry, one truncation retry

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_seconds: float = 30.0,
        max_retries: int = 1,
        context_tokens: int | None = None,
        extra_body: dict[str, Any] | None = None,
        system_in_user: bool = False,
    ) -> None:
        import openai  # lazy: ~1 s of imports, paid only when an LLM is configured

        self.model = model
        self.base_url = base_url
        self.api_key = api_key
        self.extra_body = dict(extra_body or {})
        self.system_in_user = system_in_user
        self.state: EndpointState = endpoint_state(base_url, model)
        if context_tokens:
            self.state.set_context(context_tokens, "LLM_CONTEXT_TOKENS")
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
            context_tokens=settings.llm_context_tokens,
            extra_body=settings.llm_extra_body,
            system_in_user=settings.llm_system_in_user,
        )

    def context_tokens(self) -> int:
        """The model's window (setting, server, or default), asked once per process."""
        return self.state.context(self.base_url, self.model, self.api_key)

    def chat(
        self,
        system: str,
        user: UserMessage,
        *,
        temperature: float,
        max_tokens: int,
        schema: dict[str, Any] | None = None,
        schema_name: str = "answer",
    ) -> ChatResponse:
        """One answer for (system, user); every failure is `LLMUnavailable` with a reason."""
        call = CallInfo(model=self.model)
        started = time.perf_counter()
        try:
            return self._chat(system, user, temperature, max_tokens, schema, schema_name, call)
        except LLMUnavailable as exc:
            exc.call = call
            raise
        finally:
            call.latency_ms = int((time.perf_counter() - started) * 1000)

    def _chat(
        self,
        system: str,
        user: UserMessage,
        temperature: float,
        max_tokens: int,
        schema: dict[str, Any] | None,
        schema_name: str,
        call: CallInfo,
    ) -> ChatResponse:
        thinking_off, overflow_retried, truncation_retried = False, False, False
        window = self.context_tokens()
        budget = _answer_budget(window, prompt_tokens(system), max_tokens)
        while call.attempts < self.MAX_ATTEMPTS:
            call.attempts += 1
            room = window - budget - prompt_tokens(system) - SAFETY_TOKENS
            if room < 100:
                raise LLMUnavailable(
                    f"the model's context ({window} tokens) leaves no room for the prompt",
                    reason="llm_context",
                )
            text = user(room) if callable(user) else user
            mode = self.state.output_mode(schema is not None)
            call.output_mode = mode
            body = self._body(mode, schema, schema_name, thinking_off)
            try:
                response = self._create(system, text, temperature, budget, body)
            except StatusError as exc:
                rejected = rejected_parameter(exc.status, exc.text, body)
                if rejected:
                    self.state.reject(rejected, exc.status, exc.text, mode)
                    call.notes.append(f"{rejected} rejected (HTTP {exc.status})")
                    continue
                limit = overflow_limit(exc.status, exc.text, exc.body)
                if limit is not None:
                    if limit and limit < window and not overflow_retried and callable(user):
                        overflow_retried, window = True, limit
                        budget = min(budget, _answer_budget(window, prompt_tokens(system), budget))
                        self.state.set_context(limit, f"HTTP {exc.status} overflow error")
                        call.notes.append(f"context overflow, refitted to {limit} tokens")
                        continue
                    raise LLMUnavailable(
                        f"the prompt exceeds the model's context (HTTP {exc.status})",
                        reason="llm_context",
                    ) from exc
                raise LLMUnavailable(f"the LLM returned HTTP {exc.status}") from exc
            content, finish, usage = unpack(response)
            call.finish_reason = finish
            call.prompt_tokens, call.completion_tokens = usage
            call.model = str(getattr(response, "model", None) or self.model)
            if finish == "length":
                if not truncation_retried:
                    truncation_retried, thinking_off = True, True
                    budget = min(budget * 2, max(window // 2, budget))
                    call.notes.append("cut at max_tokens; retried with thinking off")
                    continue
                raise LLMUnavailable(
                    f"the LLM reply was cut at max_tokens={budget} (finish_reason=length)",
                    reason="llm_truncated",
                )
            return ChatResponse(content=content, call=call)
        raise LLMUnavailable("the LLM endpoint kept rejecting the request parameters")

    def _body(
        self, mode: str, schema: dict[str, Any] | None, name: str, thinking_off: bool
    ) -> dict[str, Any]:
        """The non-standard part of the request: extras, response_format, thinking off."""
        body: dict[str, Any] = dict(self.extra_body)
        fmt = response_format(mode, schema, name)
        if fmt is not None:
            body["response_format"] = fmt
        if thinking_off:
            for key, value in THINKING_OFF.items():
                if isinstance(value, dict):
                    body[key] = {**(body.get(key) or {}), **value}
                else:
                    body[key] = value
        for key in self.state.dropped:
            body.pop(key, None)
        return body

    def _create(
        self, system: str, user: str, temperature: float, max_tokens: int, body: dict[str, Any]
    ) -> Any:
        import openai

        if self.system_in_user:
            messages = [{"role": "user", "content": f"{system}\n\n{user}"}]
        else:
            messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        try:
            return self.client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                temperature=temperature,
                max_tokens=max_tokens,
                extra_body=body or None,
            )
        except openai.APITimeoutError as exc:
            raise LLMUnavailable(f"the LLM did not answer in time ({self.model})") from exc
        except openai.APIStatusError as exc:
            raise StatusError(exc.status_code, str(exc.message), exc.body) from exc
        except openai.APIError as exc:
            raise LLMUnavailable(f"the LLM call failed: {type(exc).__name__}") from exc
        except (ValueError, TypeError) as exc:  # a body that is not a completion at all
            raise LLMUnavailable(f"the LLM reply is malformed: {exc}") from exc


def _answer_budget(window: int, system_tokens: int, wanted: int) -> int:
    """`wanted` answer tokens, less in a small window so the user message keeps
    `MIN_USER_TOKENS` — but never below `MIN_ANSWER_TOKENS`, a suggestion's size."""
    spare = window - system_tokens - SAFETY_TOKENS - MIN_USER_TOKENS
    return min(wanted, max(MIN_ANSWER_TOKENS, spare))


class LLMReply(BaseModel):
    """The JSON object the suggestion prompt asks for."""

    recommendation_steps: list[str] = Field(default_factory=list, max_length=12)
    cited_source_ids: list[str] = Field(default_factory=list, max_length=20)
    draft_reply: str = ""
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)

    @field_validator("confidence", mode="before")
    @classmethod
    def _clamp(cls, value: object) -> object:
        return clamp_unit(value)

    @field_validator("recommendation_steps", "cited_source_ids", mode="before")
    @classmethod
    def _strings(cls, value: object) -> object:
        """Models sometimes send numbers as ids or a single string as a list."""
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [str(item) for item in value if item is not None and str(item).strip()]
        return value


REPLY_SCHEMA = strict_schema(LLMReply)


@dataclass(frozen=True)
class LLMResult(CallFacts):
    """A parsed reply plus what the suggestion log records about the call."""

    reply: LLMReply
    call: CallInfo


def parse_reply(content: str) -> LLMReply:
    """Parse the model's answer as `LLMReply`; anything else is `LLMUnavailable`."""
    try:
        return validated(content, LLMReply)
    except AnswerError as exc:
        reason = "llm_truncated" if exc.truncated else "llm_invalid"
        raise LLMUnavailable(str(exc), reason=reason) from exc


class LLMClient:
    """The bot's use of the chat endpoint: one JSON suggestion object per ticket."""

    def __init__(self, chat: ChatClient | None = None, *, max_tokens: int = 1200, **endpoint: Any):
        """Wrap `chat`, or build one from `endpoint` (base_url, model, api_key, timeouts)."""
        self.chat = chat if chat is not None else ChatClient(**endpoint)
        self.model = self.chat.model
        self.max_tokens = max_tokens

    def complete_json(self, system: str, user: UserMessage) -> LLMResult:
        """One chat completion parsed as `LLMReply`; every failure is `LLMUnavailable`."""
        response = self.chat.chat(
            system,
            user,
            temperature=0.1,
            max_tokens=self.max_tokens,
            schema=REPLY_SCHEMA,
            schema_name="support_suggestion",
        )
        try:
            reply = parse_reply(response.content)
        except LLMUnavailable as exc:
            exc.call = response.call
            raise
        return LLMResult(reply=reply, call=response.call)


def llm_from_settings(settings: AssistantSettings) -> LLMClient | None:
    """The configured client, or None when no LLM is configured (retrieval-only mode)."""
    chat = ChatClient.from_settings(settings)
    return None if chat is None else LLMClient(chat, max_tokens=settings.llm_max_tokens)
