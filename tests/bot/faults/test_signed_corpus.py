"""Finding 2: signed events the database cannot store are never lost, never a 500/503.

Every body below is correctly signed. Each must be answered 200 (stored, sanitized
where needed) or 4xx, and everything not stored as it came is in
`assistant.dead_letters` with the reason and without the access token.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from assistant.bot.webhook import create_app, sign
from assistant.db import connect
from assistant.settings import AssistantSettings

pytestmark = pytest.mark.db

SECRET = "corpus-secret"
TOKEN = "secret-token-value-123"


def _event(task: dict[str, object], **top: object) -> bytes:
    payload = {"event": "comment", "access_token": TOKEN, "user_id": 1, **top, "task": task}
    return json.dumps(payload, ensure_ascii=False).encode()


def _nested(depth: int) -> bytes:
    inner = "[" * depth + "]" * depth
    head = json.dumps({"access_token": TOKEN})[:-1]
    return f'{head}, "task": {{"id": 5, "deep": {inner}}}}}'.encode()


# (name, body, expected status, expected reason fragment)
CORPUS: list[tuple[str, bytes, int, str]] = [
    ("nul-in-comment", _event({"id": 11, "comments": [{"id": 1, "text": "пароль\u0000 не"}]}),
     200, "NUL characters removed: 1"),
    ("nul-in-key", _event({"id": 12, "fields": [{"id": 1, "na\u0000me": "x"}]}),
     200, "NUL characters removed: 1"),
    ("lone-surrogate", b'{"task": {"id": 13, "comments": [{"id": 1, "text": "a\\ud800b"}]}}',
     200, "lone surrogates replaced: 1"),
    ("huge-task-id", _event({"id": 2**63}), 400, "task.id"),
    ("huge-comment-id", _event({"id": 14, "comments": [{"id": 2**64, "text": "x"}]}),
     400, "task.comments.0.id"),
    ("huge-user-id", _event({"id": 15}, user_id=2**63), 400, "user_id"),
    ("negative-huge-form", _event({"id": 16, "form_id": -(2**63) - 1}), 400, "form_id"),
    ("nested-300", _nested(300), 400, "nested too deeply"),
    ("nested-980", _nested(980), 400, "nested too deeply"),
    ("nested-5000", _nested(5000), 400, "nested too deeply"),
    ("empty", b"", 400, "empty body"),
    ("array", b"[]", 400, "JSON object"),
    ("array-of-events", b'[{"task": {"id": 1}}]', 400, "JSON object"),
    ("task-is-string", _event("201536102"), 400, "no task"),  # type: ignore[arg-type]
    ("id-is-word", _event({"id": "abc"}), 400, "task.id"),
    ("event-is-number", _event({"id": 17}, event=5), 400, "event"),
    ("comments-is-string", _event({"id": 18, "comments": "x"}), 400, "comments"),
    ("nan", b'{"task": {"id": 19, "x": NaN}}', 400, "NaN"),
    ("infinity-float", b'{"task": {"id": 20, "x": 1e999}}', 400, "out of range"),
    ("5000-digit-int", b'{"task": {"id": 21, "x": ' + b"9" * 5000 + b"}}", 400, "not valid JSON"),
    ("not-utf8", b'{"task": {"id": 22, "x": "\xff"}}', 400, "not valid JSON"),
    ("big-id-in-free-field", _event({"id": 23, "fields": [{"id": 2**70, "value": 2**70}]}),
     200, ""),
]  # fmt: skip


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with connect(database_url, autocommit=True) as conn:
        conn.execute("truncate assistant.inbox, assistant.dead_letters cascade")
    settings = AssistantSettings(_env_file=None, pyrus_bot_secret=SECRET)  # type: ignore[call-arg]
    with TestClient(create_app(settings, database_url)) as test_client:
        yield test_client


def _post(client: TestClient, body: bytes, **headers: str) -> object:
    return client.post(
        "/pyrus/webhook", content=body, headers={"X-Pyrus-Sig": sign(SECRET, body), **headers}
    )


def _dead_letters(database_url: str) -> list[tuple[object, ...]]:
    with connect(database_url, autocommit=True) as conn:
        return conn.execute(
            "select disposition, reason, http_status, task_id, inbox_id, body, deliveries"
            " from assistant.dead_letters order by id"
        ).fetchall()


@pytest.mark.parametrize(
    ("body", "status", "reason"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS]
)
def test_signed_but_unstorable_is_kept_with_a_reason(
    client: TestClient, database_url: str, body: bytes, status: int, reason: str
) -> None:
    response = _post(client, body)
    assert response.status_code == status, response.text
    letters = _dead_letters(database_url)
    with connect(database_url, autocommit=True) as conn:
        inbox = conn.execute("select id, payload::text from assistant.inbox").fetchall()
    if status == 200 and not reason:  # stored as it came: nothing to report
        assert letters == []
        assert len(inbox) == 1
        return
    [(disposition, why, http_status, _task, inbox_id, kept, _n)] = letters
    assert reason in why
    assert http_status == status
    assert TOKEN.encode() not in bytes(kept)  # the token does not outlive the request
    if status == 200:
        assert disposition == "sanitized"
        [(stored_id, payload)] = inbox
        assert inbox_id == stored_id
        assert "\\u0000" not in payload
    else:
        assert disposition == "rejected"
        assert reason in response.json()["error"]
        assert inbox == []


def test_redelivered_bad_event_is_one_dead_letter(client: TestClient, database_url: str) -> None:
    body = _event({"id": 2**63})
    for attempt in (None, "2/3", "3/3"):
        headers = {"X-Pyrus-Retry": attempt} if attempt else {}
        assert _post(client, body, **headers).status_code == 400
    [letter] = _dead_letters(database_url)
    assert letter[6] == 3


def test_unexpected_error_on_a_signed_event_is_kept_not_500(
    client: TestClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.bot import webhook

    def broken(*_args: object, **_kwargs: object) -> object:
        raise RuntimeError("something nobody foresaw")

    monkeypatch.setattr(webhook, "enqueue", broken)
    response = _post(client, _event({"id": 31}))
    assert response.status_code == 422
    [letter] = _dead_letters(database_url)
    assert letter[0] == "rejected"
    assert "RuntimeError" in letter[1]
    assert letter[3] == 31
