"""A fake OpenAI-compatible server on 127.0.0.1 with scripted replies.

Tests point the real `openai` client at it (`LLM_BASE_URL=<url>/v1`), so the whole
client code path runs: HTTP, JSON, timeouts and error statuses. Each reply is taken
from a queue; when the queue is empty the default reply is used.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from assistant.servers import ServerHandle, run_in_thread
from tests.fakes.llm_profiles import PROFILES, ServerProfile, models, respond

SERVED_MODEL = "emulated-model"


@dataclass
class ScriptedReply:
    """What the next chat completion returns."""

    content: str = "{}"
    status: int = 200
    delay_seconds: float = 0.0
    raw_body: str | None = None  # sent as-is (e.g. truncated JSON) instead of a completion


@dataclass
class FakeLLM:
    """State of the fake server: scripted replies and every request received."""

    default: ScriptedReply = field(default_factory=ScriptedReply)
    replies: deque[ScriptedReply] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    embedding_dim: int = 32
    handle: ServerHandle | None = None
    # Set: answer as that server does (tests/fakes/llm_profiles.py) instead of the script.
    profile: ServerProfile | None = None

    def script(self, *replies: ScriptedReply | str) -> None:
        for reply in replies:
            self.replies.append(ScriptedReply(content=reply) if isinstance(reply, str) else reply)

    @property
    def base_url(self) -> str:
        assert self.handle is not None
        return f"{self.handle.url}/v1"

    def stop(self) -> None:
        if self.handle:
            self.handle.stop()


def _embed(text: str, dim: int) -> list[float]:
    """A deterministic bag-of-words vector: similar texts get similar vectors."""
    vector = [0.0] * dim
    for word in text.lower().split():
        bucket = int(hashlib.md5(word.encode()).hexdigest(), 16) % dim
        vector[bucket] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def build_app(state: FakeLLM) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.json()
        state.requests.append({"path": "/v1/chat/completions", "body": body})
        if state.profile is not None and not state.replies:
            status, payload = respond(state.profile, body)
            return JSONResponse(payload, status_code=status)
        reply = state.replies.popleft() if state.replies else state.default
        if reply.delay_seconds:
            await asyncio.sleep(reply.delay_seconds)
        if reply.raw_body is not None:
            return PlainTextResponse(reply.raw_body, status_code=reply.status)
        if reply.status != 200:
            return JSONResponse(
                {"error": {"message": "scripted failure", "type": "server_error"}},
                status_code=reply.status,
            )
        return {
            "id": f"chatcmpl-{len(state.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
        }

    @app.get("/v1/models")
    async def list_models() -> Any:
        if state.profile is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return models(state.profile, SERVED_MODEL)

    @app.get("/props")
    async def props() -> Any:
        """llama-server's server properties (the context size among them)."""
        if state.profile is None or not state.profile.props:
            return PlainTextResponse("File Not Found", status_code=404)
        return {"default_generation_settings": {"n_ctx": state.profile.n_ctx}, "total_slots": 1}

    @app.get("/info")
    async def info() -> Any:
        """TGI's router info (its token limits among them)."""
        if state.profile is None or not state.profile.info or state.profile.n_ctx is None:
            return PlainTextResponse("Not Found", status_code=404)
        n_ctx = state.profile.n_ctx
        return {"model_id": SERVED_MODEL, "max_input_tokens": n_ctx - 1, "max_total_tokens": n_ctx}

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Any:
        body = await request.json()
        state.requests.append({"path": "/v1/embeddings", "body": body})
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        return {
            "object": "list",
            "model": body.get("model", "fake-embed"),
            "data": [
                {"object": "embedding", "index": i, "embedding": _embed(text, state.embedding_dim)}
                for i, text in enumerate(inputs)
            ],
            "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
        }

    return app


def start_fake_llm(embedding_dim: int = 32, profile: str | None = None) -> FakeLLM:
    """Start the fake server (as the named server of `PROFILES`); call `.stop()` when done."""
    state = FakeLLM(embedding_dim=embedding_dim, profile=PROFILES[profile] if profile else None)
    state.handle = run_in_thread(build_app(state))
    return state
