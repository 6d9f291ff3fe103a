"""Retention (issue #25): raw personal data goes when its time is up, and only then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from assistant.retention import PURGED_PAYLOAD, RetentionPolicy, purge

pytestmark = pytest.mark.db

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
PAYLOAD = '{"task": {"id": %d, "comments": [{"text": "паспорт 4510 123456"}]}}'


def _inbox(
    conn: psycopg.Connection, task_id: int, status: str, finished_days_ago: float | None
) -> None:
    finished = NOW - timedelta(days=finished_days_ago) if finished_days_ago is not None else None
    conn.execute(
        "insert into assistant.inbox (dedupe_key, task_id, event, payload, access_token,"
        " status, last_error, finished_at) values (%s, %s, 'comment', %s::jsonb, 'tok', %s,"
        " 'boom', %s)",
        (f"k{task_id}", task_id, PAYLOAD % task_id, status, finished),
    )


def _dead_letter(conn: psycopg.Connection, sha: str, days_ago: float) -> None:
    conn.execute(
        "insert into assistant.dead_letters (body_sha256, disposition, reason, http_status,"
        " body, body_bytes, last_delivery_at) values (%s, 'rejected', 'bad', 400,"
        " convert_to('паспорт 4510 123456', 'UTF8'), 10, %s)",
        (sha, NOW - timedelta(days=days_ago)),
    )


def _version(conn: psycopg.Connection, task_id: int, valid_to_days_ago: float | None) -> None:
    valid_to = NOW - timedelta(days=valid_to_days_ago) if valid_to_days_ago is not None else None
    conn.execute(
        "insert into raw.pyrus_task_versions (task_id, payload_hash, payload, valid_from,"
        " valid_to, _batch_id) values (%s, 'h', '{}'::jsonb, %s, %s, gen_random_uuid())",
        (task_id, NOW - timedelta(days=400 + task_id), valid_to),
    )


@pytest.fixture
def conn(database_url: str) -> Any:
    with psycopg.connect(database_url) as conn:
        for table in ("assistant.suggestions", "assistant.inbox", "assistant.dead_letters",
                      "raw.pyrus_task_versions"):  # fmt: skip
            conn.execute(f"delete from {table}")
        yield conn
        conn.rollback()


def test_purge_removes_only_what_is_past_retention(conn: psycopg.Connection) -> None:
    _inbox(conn, 1, "done", 31)  # finished long ago: payload goes
    _inbox(conn, 2, "failed", 45)  # failed long ago: payload goes too
    _inbox(conn, 3, "done", 29)  # recent: kept
    _inbox(conn, 4, "pending", None)  # not finished: kept whatever its age
    _inbox(conn, 5, "processing", None)
    _dead_letter(conn, "old", 31)
    _dead_letter(conn, "new", 2)
    _version(conn, 1, 91)  # superseded long ago: deleted
    _version(conn, 2, 10)  # superseded recently: kept
    _version(conn, 3, None)  # the open (current) version: kept
    summary = purge(conn, RetentionPolicy(inbox_days=30, raw_history_days=90), now=NOW)
    assert summary == {
        "inbox_payloads_purged": 2,
        "dead_letters_deleted": 1,
        "raw_versions_deleted": 1,
    }
    rows = conn.execute(
        "select task_id, payload::text, access_token, last_error from assistant.inbox"
        " order by task_id"
    ).fetchall()
    purged = {row[0] for row in rows if row[1] == PURGED_PAYLOAD}
    assert purged == {1, 2}
    assert all(row[2] is None and row[3] is None for row in rows if row[0] in purged)
    assert all("паспорт" in row[1] for row in rows if row[0] not in purged)
    assert [r[0] for r in conn.execute("select body_sha256 from assistant.dead_letters")] == ["new"]
    versions = conn.execute("select task_id from raw.pyrus_task_versions order by task_id")
    assert [row[0] for row in versions] == [2, 3]
    # Re-running is safe: nothing more goes.
    again = purge(conn, RetentionPolicy(inbox_days=30, raw_history_days=90), now=NOW)
    assert again == dict.fromkeys(summary, 0)


def test_purge_stage_runs_from_the_refresh(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The nightly refresh's last stage reads the settings and reports its counts."""
    from flows.purge import purge_now

    with psycopg.connect(database_url) as conn:
        _inbox(conn, 77, "done", 400)
        conn.commit()
    summary = purge_now(database_url, RetentionPolicy(inbox_days=30, raw_history_days=90))
    assert summary["inbox_payloads_purged"] == 1
    assert summary["inbox_days"] == 30
