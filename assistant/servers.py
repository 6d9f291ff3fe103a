"""Run an ASGI app on 127.0.0.1 in a background thread.

Used by the local emulators, the fake LLM in tests and `kb demo`: real HTTP on the
loopback interface, with an ephemeral port so parallel runs never collide.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn


@dataclass
class ServerHandle:
    """A running server: its base URL and how to stop it."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def run_in_thread(
    app: object, *, host: str = "127.0.0.1", port: int = 0, timeout: float = 15.0
) -> ServerHandle:
    """Start `app` with uvicorn in a daemon thread and wait until it accepts requests."""
    chosen = port or _free_port(host)
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=chosen,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"asgi-{chosen}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"server on {host}:{chosen} did not start")
        time.sleep(0.02)
    return ServerHandle(url=f"http://{host}:{chosen}", server=server, thread=thread)
