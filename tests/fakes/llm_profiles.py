"""Stand-ins for the model servers organizations run, each behaving as its docs say.

A `ServerProfile` makes the fake OpenAI-compatible server (tests/fakes/llm_server.py)
answer like one server: which `response_format` shapes it accepts and how it refuses the
others, where a reasoning trace goes and whether it eats `max_tokens`, how it reports its
context window and how it fails when the prompt does not fit. The behaviours and their
upstream sources are listed in docs/llm.md. The "model" itself is a good one: it answers
the JSON the prompt asks for, citing the first source it was given.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

TRACE = (
    "Клиент пишет, что письмо не приходит. Проверю источники: {S1} про сброс пароля, "
    '{"шаг": 1} — проверить спам, {"шаг": 2} — адрес. Подумаю ещё. '
)


def count_tokens(text: str) -> int:
    """The emulator's tokenizer, close to Gemma's on our texts: a digit or punctuation mark
    ~0.9 tokens, Cyrillic ~2.4 characters a token, the rest ~3.6."""
    cyrillic = len(re.findall(r"[\u0400-\u04ff]", text))
    single = len(re.findall(r"[^\w\s]|\d", text))
    return math.ceil(single * 0.9 + cyrillic / 2.4 + (len(text) - cyrillic - single) / 3.6)


@dataclass
class ServerProfile:
    """How one server behaves; the defaults are a polite OpenAI-compatible server."""

    name: str
    thinking: str = "none"  # none | inline (<think> in content) | reasoning_content | reasoning
    trace_tokens: int = 900
    lone_close_tag: bool = False  # the template opened <think> in the prompt
    thinking_switch: str = "template"  # template (chat_template_kwargs) | effort (Ollama)
    rejects_effort_none: bool = False  # vLLM validates reasoning_effort as low|medium|high
    json_schema: str = "ok"  # ok | http500 (llama-cpp-python) | tgi422 | function_call
    json_object: str = "ok"  # ok | lmstudio400 | needs_value (TGI)
    n_ctx: int | None = None
    overflow: str = "none"  # none | llama_server | vllm | llama_cpp_python | truncate
    models_extra: dict[str, Any] = field(default_factory=dict)  # e.g. max_model_len
    props: bool = False  # llama-server's GET /props
    info: bool = False  # TGI's GET /info


PROFILES: dict[str, ServerProfile] = {
    p.name: p
    for p in (
        ServerProfile(
            "vllm_qwen3_no_parser",
            thinking="inline",
            rejects_effort_none=True,
            n_ctx=32768,
            overflow="vllm",
            models_extra={"max_model_len": 32768},
        ),
        ServerProfile(
            "vllm_qwen3_thinking_2507",
            thinking="inline",
            lone_close_tag=True,
            rejects_effort_none=True,
            n_ctx=32768,
            overflow="vllm",
            models_extra={"max_model_len": 32768},
        ),
        ServerProfile(
            "vllm_reasoning_content",
            thinking="reasoning_content",
            rejects_effort_none=True,
            n_ctx=16384,
            overflow="vllm",
            models_extra={"max_model_len": 16384},
        ),
        ServerProfile(
            "vllm_reasoning",
            thinking="reasoning",
            rejects_effort_none=True,
            n_ctx=16384,
            overflow="vllm",
            models_extra={"max_model_len": 16384},
        ),
        ServerProfile(
            "ollama_thinking",
            thinking="reasoning",
            thinking_switch="effort",
            n_ctx=4096,
            overflow="truncate",
        ),
        ServerProfile("llama_server", n_ctx=4096, overflow="llama_server", props=True),
        ServerProfile(
            "llama_cpp_python", json_schema="http500", n_ctx=4096, overflow="llama_cpp_python"
        ),
        ServerProfile("lm_studio", json_object="lmstudio400", n_ctx=4096, overflow="truncate"),
        ServerProfile(
            "tgi",
            json_schema="tgi422",
            json_object="needs_value",
            n_ctx=4096,
            overflow="vllm",
            info=True,
        ),
        ServerProfile("gpt2giga", json_schema="function_call", n_ctx=32768, overflow="truncate"),
    )
}


def _error(status: int, message: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"message": message, "type": "invalid_request_error", **extra}}


def _answer(body: dict[str, Any]) -> dict[str, Any]:
    """What a capable model answers: a suggestion citing the first source, or a category."""
    text = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    if "<sources>" in text:
        labels = re.findall(r"\[(S\d+)\]", text)
        return {
            "recommendation_steps": ["Проверить папку «Спам».", "Отправить ссылку повторно."],
            "cited_source_ids": labels[:1],
            "draft_reply": "Здравствуйте! Проверьте, пожалуйста, папку «Спам» и запросите "
            "ссылку для сброса пароля ещё раз. Если вопрос останется — ответьте на это "
            "сообщение, разберёмся.",
            "confidence": 0.8,
        }
    if '{"answer": "да"}' in text:  # the probe of `kb llm check`
        return {"answer": "да"}
    codes = re.findall(r"- `([a-z_]+)`", text) or ["other"]
    return {"category_code": codes[0], "confidence": 0.7}


def respond(profile: ServerProfile, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The status and JSON body `profile`'s server returns for a chat request."""
    fmt = body.get("response_format") or {}
    kind = fmt.get("type")
    if kind == "json_schema" and profile.json_schema == "http500":
        return 500, {
            "error": {
                "message": "1 validation error for CreateChatCompletionRequest"
                "\nresponse_format.type\n  Input should be 'text' or "
                "'json_object' [input_value='json_schema']",
                "type": "internal_server_error",
            }
        }
    if kind == "json_schema" and profile.json_schema == "tgi422":
        return 422, {
            "error": "Failed to deserialize the JSON body into the target type: "
            "response_format: unknown variant `json_schema`, expected `json` or "
            "`regex`",
            "error_type": "validation",
        }
    if kind == "json_object" and profile.json_object == "lmstudio400":
        return 400, {"error": "'response_format.type' must be 'json_schema' or 'text'"}
    if kind == "json_object" and profile.json_object == "needs_value" and "value" not in fmt:
        return 422, {"error": "response_format: missing field `value`", "error_type": "x"}
    effort = body.get("reasoning_effort")
    if (
        effort is not None
        and effort not in ("low", "medium", "high")
        and (profile.rejects_effort_none)
    ):
        return _error(
            400,
            "1 validation error: reasoning_effort: Input should be 'low', "
            f"'medium' or 'high' [input_value={effort!r}]",
        )
    max_tokens = int(body.get("max_tokens") or 4096)
    prompt = sum(count_tokens(str(m.get("content", ""))) + 4 for m in body["messages"]) + 10
    if profile.n_ctx is not None:
        if profile.overflow == "llama_server" and prompt >= profile.n_ctx:
            return _error(
                400,
                f"request ({prompt} tokens) exceeds the available context size "
                f"({profile.n_ctx} tokens), try increasing it",
                type="exceed_context_size_error",
                code=400,
                n_prompt_tokens=prompt,
                n_ctx=profile.n_ctx,
            )
        if profile.overflow in ("vllm", "llama_cpp_python") and prompt + max_tokens > (
            profile.n_ctx
        ):
            return _error(
                400,
                f"This model's maximum context length is {profile.n_ctx} "
                f"tokens. However, you requested {prompt + max_tokens} tokens "
                f"({prompt} in the messages, {max_tokens} in the completion). "
                "Please reduce the length of the messages or completion.",
            )
    thinking = profile.thinking != "none"
    if profile.lone_close_tag:
        pass  # a thinking-only model: no switch turns the trace off
    elif profile.thinking_switch == "template":
        kwargs = body.get("chat_template_kwargs") or {}
        thinking = thinking and kwargs.get("enable_thinking", True) is not False
    else:
        thinking = thinking and effort != "none"
    answer = json.dumps(_answer(body), ensure_ascii=False)
    trace = ""
    if thinking:
        trace = TRACE * (1 + profile.trace_tokens // count_tokens(TRACE))
    trace_tokens = count_tokens(trace)
    finish = "stop"
    room = max_tokens - trace_tokens
    if room < count_tokens(answer):
        finish = "length"
        if room <= 0:
            trace = trace[: max(0, len(trace) * max_tokens // max(trace_tokens, 1))]
            answer = ""
        else:
            answer = answer[: len(answer) * room // count_tokens(answer)]
    message: dict[str, Any] = {"role": "assistant", "content": answer}
    if thinking and profile.thinking == "inline":
        opening = "" if profile.lone_close_tag else "<think>\n"
        closing = "\n</think>\n\n" if answer or finish == "stop" else ""
        message["content"] = f"{opening}{trace}{closing}{answer}"
    elif thinking:
        message[profile.thinking] = trace
    elif profile.thinking == "inline" and not profile.lone_close_tag:
        message["content"] = f"<think>\n\n</think>\n\n{answer}"  # Qwen3 with thinking off
    if kind == "json_schema" and profile.json_schema == "function_call":
        name = fmt.get("json_schema", {}).get("name", "structured_output")
        message["content"] = ""
        message["tool_calls"] = [
            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": answer}}
        ]
        finish = "tool_calls" if finish == "stop" else finish
    completion = count_tokens(trace) + count_tokens(answer)
    return 200, {
        "id": "chatcmpl-emulated",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", profile.name),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def models(profile: ServerProfile, model: str) -> dict[str, Any]:
    """GET /v1/models as `profile`'s server lists the one model it serves."""
    entry = {"id": model, "object": "model", "created": 0, "owned_by": profile.name}
    return {"object": "list", "data": [{**entry, **profile.models_extra}]}
