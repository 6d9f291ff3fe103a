"""Request validation of `POST /pyrus/webhook` (FastAPI TestClient, real Postgres)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.bot.webhook import create_app, parse_payload, sign, verify_signature
from assistant.db import connect
from assistant.settings import AssistantSettings

pytestmark = pytest.mark.db

SECRET = "test-bot-secret"
SAMPLE = Path(__file__).resolve().parents[2] / "docs/samples/pyrus/bot-webhook-payload.json"
MINIMAL = json.dumps(
    {
        "event": "comment",
        "access_token": "t",
        "task_id": 7,
        "user_id": 1,
        "task": {"id": 7, "form_id": 321456, "comments": [{"id": 70, "text": "Помогите"}]},
    },
    ensure_ascii=False,
).encode()


def settings(**overrides: object) -> AssistantSettings:
    values: dict[str, object] = {"pyrus_bot_secret": SECRET, "webhook_max_body_bytes": 4096}
    values.update(overrides)
    return AssistantSettings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with connect(database_url, autocommit=True) as conn:
        conn.execute("truncate assistant.inbox cascade")
    return TestClient(create_app(settings(), database_url))


def stored(database_url: str) -> int:
    with connect(database_url, autocommit=True) as conn:
        row = conn.execute("select count(*) from assistant.inbox").fetchone()
    return int(row[0]) if row else 0


def post(client: TestClient, body: bytes, sig: str | None = None, **headers: str) -> object:
    if sig is None:
        sig = sign(SECRET, body)
    if sig:
        headers["X-Pyrus-Sig"] = sig
    return client.post(
        "/pyrus/webhook", content=body, headers={"Content-Type": "application/json", **headers}
    )


@pytest.mark.skipif(not SAMPLE.exists(), reason="reference samples not present")
def test_reference_signature_vector() -> None:
    body = SAMPLE.read_bytes()
    assert sign(SECRET, body) == "0672FF225E475011549200DC4D8F13C425FB282B"
    verify_signature(SECRET, body, "0672ff225e475011549200dc4d8f13c425fb282b")  # any case
    assert parse_payload(body).task.id == 201536102


def test_valid_webhook_is_stored(client: TestClient, database_url: str) -> None:
    response = post(client, MINIMAL)
    assert response.status_code == 200
    assert response.content == b""  # empty body: Pyrus adds nothing inline
    assert response.headers["X-Kb-Duplicate"] == "false"
    assert stored(database_url) == 1
    with connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "select task_id, event, comment_id, access_token, payload ? "
            "'access_token' from assistant.inbox"
        ).fetchone()
    assert row == (7, "comment", 70, "t", False)  # the token is not kept in the payload


@pytest.mark.parametrize(
    ("sig", "reason"),
    [("", "missing"), ("0" * 40, "does not match"), (sign("other-secret", MINIMAL), "match")],
)
def test_forged_or_missing_signature_is_401(
    client: TestClient, database_url: str, sig: str, reason: str
) -> None:
    response = post(client, MINIMAL, sig=sig)
    assert response.status_code == 401
    assert reason in response.json()["error"]
    assert stored(database_url) == 0


def test_body_signed_then_altered_is_401(client: TestClient, database_url: str) -> None:
    altered = MINIMAL.replace(b'"task_id": 7', b'"task_id": 8')
    assert post(client, altered, sig=sign(SECRET, MINIMAL)).status_code == 401
    assert stored(database_url) == 0


def test_huge_unsigned_body_is_401_before_it_is_read(client: TestClient, database_url: str) -> None:
    huge = b'{"task": {"id": 1, "text": "' + b"x" * 100_000 + b'"}}'
    response = post(client, huge, sig="")  # no signature: refused before the body is read
    assert response.status_code == 401
    assert stored(database_url) == 0


def test_body_far_over_the_limit_is_413_unread(client: TestClient, database_url: str) -> None:
    huge = b'{"task": {"id": 1, "text": "' + b"x" * 100_000 + b'"}}'  # > 4 x 4096 bytes
    response = post(client, huge)
    assert response.status_code == 413
    assert "limit" in response.json()["error"]
    assert stored(database_url) == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty body"),
        (b"   ", "empty body"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"event": "comment"}', "no task"),
        (b'{"task": "201536102"}', "no task"),
        (b'{"task": {"text": "no id"}}', "task.id"),
        (b'{"task": {"id": "abc"}}', "task.id"),
        (b'{"task_id": 5, "task": {"id": 6}}', "differs"),
        (b'{"task": {"id": 6, "comments": [{"text": "no id"}]}}', "comments"),
        (b'{"task": {"id": 6, "fields": [1, 2]}}', "fields"),
        (b'{"task": ' + b"[" * 1900 + b"]" * 1900 + b"}", "nested too deeply"),
    ],
)
def test_malformed_payloads_are_400_with_a_reason(
    client: TestClient, database_url: str, body: bytes, message: str
) -> None:
    response = post(client, body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert stored(database_url) == 0


def test_unknown_event_is_accepted_and_stored(client: TestClient, database_url: str) -> None:
    body = MINIMAL.replace(b'"event": "comment"', b'"event": "task_moved"')
    assert post(client, body).status_code == 200  # the worker decides to skip it
    assert stored(database_url) == 1


def test_duplicate_is_acknowledged(client: TestClient, database_url: str) -> None:
    post(client, MINIMAL)
    response = post(client, MINIMAL, **{"X-Pyrus-Retry": "2/3"})
    assert response.status_code == 200
    assert response.headers["X-Kb-Duplicate"] == "true"
    assert stored(database_url) == 1


def test_database_down_is_503_so_pyrus_retries(tmp_path: Path) -> None:
    down = f"postgresql://postgres@/postgres?host={tmp_path}&connect_timeout=2"
    client = TestClient(create_app(settings(), down))
    response = post(client, MINIMAL)
    assert response.status_code == 503
    assert response.json() == {"error": "database unavailable, retry later"}
    assert str(tmp_path) not in response.text  # no socket path for the caller
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json() == {"status": "unavailable"}


def test_missing_secret_refuses_with_503(database_url: str) -> None:
    client = TestClient(create_app(settings(pyrus_bot_secret=None), database_url))
    response = post(client, MINIMAL)
    assert response.status_code == 503
    assert "PYRUS_BOT_SECRET" in response.json()["error"]


def test_healthz_says_ok_without_internals(client: TestClient) -> None:
    post(client, MINIMAL)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
