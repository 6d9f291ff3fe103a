"""`kb serve`, `kb worker` and `kb ask` as an operator runs them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from assistant.bot.comment_format import HEADING
from assistant.bot.webhook import sign
from assistant.db import connect

pytestmark = pytest.mark.db

SECRET = "cli-bot-secret"
BODY = (
    '{"event": "comment", "access_token": "t", "task_id": 77, "user_id": 1, '
    '"task": {"id": 77, "form_id": 321456, "comments": [{"id": 770, "text": "Помогите"}]}}'
).encode()


def kb(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(base: str, server: subprocess.Popen[Any], seconds: float = 60.0) -> None:
    """Until `kb serve` at `base` answers /healthz with 200 (it must not exit meanwhile)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert server.poll() is None, server.stdout.read() if server.stdout else ""
        time.sleep(0.1)
    raise AssertionError(f"{base} did not come up within {seconds:.0f} s")


def test_serve_then_worker_process_a_webhook(kb_env: str) -> None:
    port = free_port()
    env = {
        "DATABASE_URL": kb_env,
        "PYRUS_BOT_SECRET": SECRET,
        "PYRUS_FORM_IDS": "999",
        "PYRUS_LOGIN": "bot@example.ru",
        "PYRUS_SECURITY_KEY": "key",
        "BOT_WORKER_IN_APP": "false",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, server)
        forged = httpx.post(
            f"{base}/pyrus/webhook", content=BODY, headers={"X-Pyrus-Sig": "00" * 20}, timeout=10
        )
        assert forged.status_code == 401
        good = httpx.post(
            f"{base}/pyrus/webhook",
            content=BODY,
            headers={"X-Pyrus-Sig": sign(SECRET, BODY)},
            timeout=10,
        )
        assert good.status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
    result = kb("worker", "--once", env=env)
    assert result.returncode == 0, result.stderr
    assert "processed 1 inbox job(s)" in result.stdout
    with connect(kb_env, autocommit=True) as conn:
        row = conn.execute(
            "select status, outcome from assistant.inbox where task_id = 77"
        ).fetchone()
    assert row == ("skipped", "form 321456 is not in PYRUS_FORM_IDS")


def test_serve_refuses_without_a_secret(kb_env: str) -> None:
    result = kb("serve", env={"DATABASE_URL": kb_env})
    assert result.returncode == 2
    assert "PYRUS_BOT_SECRET" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_serve_names_every_missing_bot_variable(kb_env: str) -> None:
    result = kb("serve", env={"DATABASE_URL": kb_env, "PYRUS_BOT_SECRET": SECRET})
    assert result.returncode == 2
    first = result.stderr.strip().splitlines()
    assert len(first) == 1
    assert first[0].startswith(
        "error: kb serve needs PYRUS_FORM_IDS, PYRUS_LOGIN, PYRUS_SECURITY_KEY:"
    )


def test_ask_on_an_empty_index_says_nothing_was_found(kb_env: str) -> None:
    from flows.cli import app

    result = CliRunner().invoke(app, ["ask", "Не приходит письмо для сброса пароля"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(HEADING)
    assert "не нашлось материалов" in result.output


def test_ask_prints_recommendation_and_draft(kb_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.cli import app
    from tests.bot.test_suggest import make_suggester

    monkeypatch.setattr(
        "assistant.bot.suggest.open_suggester", lambda _conn, _settings: make_suggester()
    )
    result = CliRunner().invoke(app, ["ask", "Не приходит письмо для сброса пароля, спам"])
    output: Any = result.output
    assert result.exit_code == 0, output
    assert output.startswith(HEADING)
    assert "Шаги из базы знаний:\n1. Проверьте папку «Спам»" in output
    assert "Черновик ответа клиенту:\nЗдравствуйте!" in output
    assert "https://wiki.example/pages/1" in output
