"""Cases 6-9 of issue #25: strict ids, one body limit, bounded unauthenticated work, no
interactive docs, no database text in answers.

Socket-level cases talk raw HTTP/1.1 to the bot served by uvicorn on 127.0.0.1, so a
stalled or abandoned body is really stalled or abandoned.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from assistant.bot.webhook import create_app, sign
from assistant.db import connect
from assistant.servers import ServerHandle, run_in_thread
from assistant.settings import AssistantSettings

pytestmark = pytest.mark.db

SECRET = "strict-secret"
ROOT = Path(__file__).resolve().parents[3]


def _settings(**overrides: object) -> AssistantSettings:
    values: dict[str, object] = {"pyrus_bot_secret": SECRET, "webhook_max_body_bytes": 8192}
    values.update(overrides)
    return AssistantSettings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def clean(database_url: str) -> str:
    with connect(database_url, autocommit=True) as conn:
        conn.execute("truncate assistant.inbox, assistant.dead_letters cascade")
    return database_url


@pytest.fixture
def serve(clean: str) -> Iterator[object]:
    handles: list[ServerHandle] = []

    def _serve(**overrides: object) -> str:
        handle = run_in_thread(create_app(_settings(**overrides), clean))
        handles.append(handle)
        return handle.url

    yield _serve
    for handle in handles:
        handle.server.force_exit = True
        handle.stop()


def _letters(database_url: str) -> list[tuple[object, ...]]:
    with connect(database_url, autocommit=True) as conn:
        return conn.execute(
            "select reason, http_status, body_bytes, length(body), deliveries"
            " from assistant.dead_letters order by id"
        ).fetchall()


def _inbox_rows(database_url: str) -> int:
    with connect(database_url, autocommit=True) as conn:
        row = conn.execute("select count(*) from assistant.inbox").fetchone()
    return int(row[0]) if row else 0


def _post(url: str, body: bytes, **headers: str) -> httpx.Response:
    signed = {"X-Pyrus-Sig": sign(SECRET, body), **headers}
    return httpx.post(f"{url}/pyrus/webhook", content=body, headers=signed, timeout=10)


# --- case 6: ids ---------------------------------------------------------------------------


def _event(task: dict[str, object], **top: object) -> bytes:
    return json.dumps({"event": "comment", "user_id": 9, **top, "task": task}).encode()


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (_event({"id": True}), "task.id"),
        (_event({"id": "5"}), "task.id"),
        (_event({"id": 0}), "task.id"),
        (_event({"id": -5}), "task.id"),
        (_event({"id": 5.0}), "task.id"),
        (_event({"id": 5}, task_id=True), "task_id"),
        (_event({"id": 5}, user_id=-1), "user_id"),
        (_event({"id": 5, "form_id": 0}), "task.form_id"),
        (_event({"id": 5, "comments": [{"id": False, "text": "x"}]}), "task.comments.0.id"),
        (_event({"id": 5, "comments": [{"id": 1, "author": {"id": "7"}}]}), "author.id"),
    ],
    ids=["true", "string", "zero", "negative", "float", "task_id-bool", "user-negative",
         "form-zero", "comment-false", "author-string"],
)  # fmt: skip
def test_an_id_that_is_not_a_positive_integer_is_400_and_kept(
    serve: object, clean: str, body: bytes, where: str
) -> None:
    url = serve()  # type: ignore[operator]
    response = _post(url, body)
    assert response.status_code == 400, response.text
    assert where in response.json()["error"]
    [(reason, status, *_)] = _letters(clean)
    assert where in str(reason)
    assert status == 400
    assert _inbox_rows(clean) == 0


# --- case 7: one body limit ----------------------------------------------------------------


def test_docs_and_settings_name_the_same_body_limit() -> None:
    default = AssistantSettings.model_fields["webhook_max_body_bytes"].default
    text = (ROOT / "docs/pyrus-api.md").read_text("utf-8")
    [stated] = re.findall(r"WEBHOOK_MAX_BODY_BYTES`[^.]*?([\d,]{6,}) bytes", text)
    assert int(stated.replace(",", "")) == default == 16 * 1024 * 1024
    reliability = (ROOT / "docs/reliability.md").read_text("utf-8")
    assert f"{default:,}" in reliability


def test_a_signed_body_over_the_limit_is_kept_as_a_dead_letter(serve: object, clean: str) -> None:
    """Before the fix it was answered 413 and forgotten."""
    url = serve()  # type: ignore[operator]
    body = _event({"id": 77, "comments": [{"id": 1, "text": "long thread " * 1500}]})
    assert 8192 < len(body) < 4 * 8192
    for retry in (None, "2/3"):
        response = _post(url, body, **({"X-Pyrus-Retry": retry} if retry else {}))
        assert response.status_code == 413
        assert "dead letter" in response.json()["error"]
    [(reason, status, kept_bytes, stored_bytes, deliveries)] = _letters(clean)
    assert "8192-byte" in str(reason)
    assert (status, kept_bytes, stored_bytes, deliveries) == (413, len(body), len(body), 2)
    assert _inbox_rows(clean) == 0


def test_an_unsigned_body_over_the_limit_is_not_kept(serve: object, clean: str) -> None:
    url = serve()  # type: ignore[operator]
    body = b"x" * 20_000
    response = httpx.post(
        f"{url}/pyrus/webhook", content=body, headers={"X-Pyrus-Sig": "0" * 40}, timeout=10
    )
    assert response.status_code == 401
    assert _letters(clean) == []


# --- case 8: unauthenticated resource use --------------------------------------------------


def _open(url: str, headers: dict[str, str], body: bytes = b"") -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    lines = ["POST /pyrus/webhook HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return sock


def _status(sock: socket.socket, within: float) -> int:
    sock.settimeout(within)
    head = sock.recv(4096)
    return int(head.split(b" ", 2)[1])


def test_a_request_without_a_signature_is_refused_before_its_body(serve: object) -> None:
    """Before the fix the bot waited for (and buffered) the whole body first."""
    url = serve()  # type: ignore[operator]
    sock = _open(url, {"Content-Length": "1000000"}, b'{"task": ')
    try:
        assert _status(sock, within=3) == 401
    finally:
        sock.close()


def test_a_stalled_body_is_timed_out(serve: object) -> None:
    """Before the fix an incomplete body was never timed out."""
    url = serve(webhook_body_timeout_seconds=0.5)  # type: ignore[operator]
    started = time.monotonic()
    sock = _open(url, {"Content-Length": "1000", "X-Pyrus-Sig": "0" * 40}, b'{"task": ')
    try:
        assert _status(sock, within=5) == 408
    finally:
        sock.close()
    assert time.monotonic() - started < 3


def test_concurrency_is_bounded(clean: str) -> None:
    """Two stalled bodies fill a house of two: the third request is 503 at once."""
    settings = _settings(webhook_max_concurrency=2, webhook_body_timeout_seconds=10)
    app = create_app(settings, clean)
    handle = run_in_thread(app)
    stalled = [
        _open(handle.url, {"Content-Length": "1000", "X-Pyrus-Sig": "0" * 40}, b"{")
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 10
        while not app.state.webhook_slots.locked() and time.monotonic() < deadline:
            time.sleep(0.02)
        started = time.monotonic()
        response = _post(handle.url, _event({"id": 5}))
        assert response.status_code == 503
        assert time.monotonic() - started < 2
        for sock in stalled:
            sock.close()
        while app.state.webhook_slots.locked() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _post(handle.url, _event({"id": 5})).status_code == 200  # free again
    finally:
        for sock in stalled:
            sock.close()
        handle.server.force_exit = True
        handle.stop()


def test_a_client_disconnect_is_one_line_without_a_traceback(
    serve: object, caplog: pytest.LogCaptureFixture
) -> None:
    """Before the fix each one logged a 58-line `ClientDisconnect` traceback at ERROR."""
    url = serve()  # type: ignore[operator]
    caplog.set_level(logging.INFO)
    for _ in range(3):
        sock = _open(url, {"Content-Length": "5000", "X-Pyrus-Sig": "0" * 40}, b'{"task"')
        time.sleep(0.1)
        sock.close()
    deadline = time.monotonic() + 10
    gone: list[logging.LogRecord] = []
    while len(gone) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
        gone = [r for r in caplog.records if "disconnected" in r.getMessage()]
    assert len(gone) == 3
    assert all(r.exc_info is None and r.levelno < logging.WARNING for r in gone)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


# --- case 9: docs and error bodies ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_interactive_docs_are_off_by_default(serve: object, path: str) -> None:
    url = serve()  # type: ignore[operator]
    assert httpx.get(f"{url}{path}").status_code == 404
    on = serve(webhook_api_docs=True)  # type: ignore[operator]
    assert httpx.get(f"{on}{path}").status_code == 200


def test_an_error_body_carries_no_database_text(
    serve: object, clean: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.bot import webhook

    def refuse(*_args: object, **_kwargs: object) -> object:
        raise psycopg.errors.NumericValueOutOfRange('value "9e99" is out of range for type bigint')

    monkeypatch.setattr(webhook, "enqueue", refuse)
    url = serve()  # type: ignore[operator]
    response = _post(url, _event({"id": 5}))
    assert response.status_code == 422
    assert "bigint" not in response.text
    assert "out of range" not in response.text
    assert "dead letter" in response.json()["error"]
    [(reason, *_)] = _letters(clean)
    assert "out of range for type bigint" in str(reason)  # kept for the operator
