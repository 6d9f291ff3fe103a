"""A loopback HTTP proxy that forwards to the Pyrus emulator and then misbehaves.

The faults that hurt a non-idempotent POST are the ones that happen *after* the request
reached Pyrus: the comment is applied, but the answer is late (past the client timeout)
or lost (a gateway 502). The emulator's own faults act before the request is handled, so
this proxy sits in front of it: it forwards every request, and for the next matching
ones it sleeps before answering, or replaces the real answer with a 502.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response

from assistant.servers import ServerHandle, run_in_thread


@dataclass
class AfterForward:
    """What to do to the answer of one matching request, after forwarding it."""

    method: str
    path_prefix: str
    delay_seconds: float = 0.0
    replace_status: int | None = None  # e.g. 502: the real answer is dropped


@dataclass
class FaultProxy:
    """State of a running proxy: the target, queued faults and what was forwarded."""

    target: str
    faults: list[AfterForward] = field(default_factory=list)
    forwarded: list[tuple[str, str, int]] = field(default_factory=list)
    handle: ServerHandle | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.handle is not None
        return self.handle.url

    def delay_after_forward(
        self, method: str, path_prefix: str, seconds: float, n: int = 1
    ) -> None:
        with self._lock:
            self.faults.extend(
                AfterForward(method, path_prefix, delay_seconds=seconds) for _ in range(n)
            )

    def drop_after_forward(
        self, method: str, path_prefix: str, status: int = 502, n: int = 1
    ) -> None:
        with self._lock:
            self.faults.extend(
                AfterForward(method, path_prefix, replace_status=status) for _ in range(n)
            )

    def take(self, method: str, path: str) -> AfterForward | None:
        with self._lock:
            for index, fault in enumerate(self.faults):
                if fault.method == method and path.startswith(fault.path_prefix):
                    return self.faults.pop(index)
        return None

    def count(self, method: str, path_prefix: str) -> int:
        with self._lock:
            return sum(1 for m, p, _ in self.forwarded if m == method and p.startswith(path_prefix))

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.server.force_exit = True  # idle keep-alive clients must not delay it
            self.handle.stop()


def start_proxy(target: str) -> FaultProxy:
    """Serve a proxy to `target` (scheme://host:port) on 127.0.0.1."""
    state = FaultProxy(target=target.rstrip("/"))
    app = FastAPI()
    client = httpx.AsyncClient(timeout=30)

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE"])
    async def forward(path: str, request: Request) -> Response:
        url = f"{state.target}/{path}"
        upstream = await client.request(
            request.method,
            url,
            params=request.query_params,
            content=await request.body(),
            headers={
                k: v
                for k, v in request.headers.items()
                if k.lower() in {"authorization", "content-type"}
            },
        )
        with state._lock:
            state.forwarded.append((request.method, f"/{path}", upstream.status_code))
        fault = state.take(request.method, f"/{path}")
        if fault is not None and fault.delay_seconds:
            await asyncio.sleep(fault.delay_seconds)
        if fault is not None and fault.replace_status:
            return Response(
                b'{"error":"bad gateway"}', fault.replace_status, media_type="application/json"
            )
        headers = {
            k: v
            for k, v in upstream.headers.items()
            if k.lower().startswith(("x-ratelimit", "retry-after"))
        }
        return Response(
            upstream.content, upstream.status_code, headers=headers, media_type="application/json"
        )

    state.handle = run_in_thread(app)
    return state
