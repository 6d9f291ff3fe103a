"""The durable inbox on the real embedded Postgres: dedupe, SKIP LOCKED, crash recovery."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from assistant.bot.inbox import (
    Job,
    JobRetry,
    PermanentJobError,
    claim_next,
    enqueue,
    fail,
    finish,
    inbox_counts,
)
from assistant.bot.inbox_worker import InboxWorker
from assistant.db import connect

pytestmark = pytest.mark.db


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with connect(database_url, autocommit=True) as connection:
        connection.execute("truncate assistant.inbox cascade")
        yield connection


def put(
    conn: psycopg.Connection,
    task_id: int,
    comment_id: int = 1,
    event: str = "comment",
    retry: str | None = None,
) -> tuple[int, bool, int]:
    result = enqueue(
        conn,
        task_id=task_id,
        event=event,
        form_id=321456,
        comment_id=comment_id,
        payload={"task": {"id": task_id}},
        access_token="tok",
        retry_header=retry,
    )
    return result.inbox_id, result.duplicate, result.deliveries


def test_duplicate_deliveries_are_stored_once(conn: psycopg.Connection) -> None:
    first = put(conn, 1)
    again = put(conn, 1, retry="2/3")
    assert first[1] is False
    assert again == (first[0], True, 2)
    assert put(conn, 1, comment_id=2)[1] is False  # a new comment is a new event
    assert put(conn, 1, event="close")[1] is False
    row = conn.execute(
        "select deliveries, retry_header from assistant.inbox where id = %s", (first[0],)
    ).fetchone()
    assert row == (2, "2/3")
    assert inbox_counts(conn) == {"pending": 3}


def test_claims_skip_rows_locked_by_another_worker(
    database_url: str, conn: psycopg.Connection
) -> None:
    first, _, _ = put(conn, 10)
    second, _, _ = put(conn, 11)
    with connect(database_url) as other:  # not autocommit: its claim stays uncommitted
        held = claim_next(other, claim_timeout_seconds=300)
        assert held is not None
        assert held.id == first
        mine = claim_next(conn, claim_timeout_seconds=300)
        assert mine is not None
        assert mine.id == second
        assert claim_next(conn, claim_timeout_seconds=300) is None
        other.rollback()
    again = claim_next(conn, claim_timeout_seconds=300)
    assert again is not None
    assert again.id == first


def test_a_crashed_claim_is_taken_again_after_the_timeout(conn: psycopg.Connection) -> None:
    job_id, _, _ = put(conn, 20)
    crashed = claim_next(conn, claim_timeout_seconds=0.3)
    assert crashed is not None
    assert crashed.attempts == 1
    assert claim_next(conn, claim_timeout_seconds=300) is None  # its lease still runs
    time.sleep(0.4)
    resumed = claim_next(conn, claim_timeout_seconds=300)
    assert resumed is not None
    assert resumed.id == job_id
    assert resumed.attempts == 2
    assert resumed.lease == crashed.lease + 1  # a new fencing token
    assert resumed.access_token == "tok"
    finish(conn, job_id, status="done", outcome="ok")
    assert claim_next(conn, claim_timeout_seconds=0) is None
    token = conn.execute(
        "select access_token from assistant.inbox where id = %s", (job_id,)
    ).fetchone()
    assert token == (None,)  # the bot token is not kept after the job


def test_failures_back_off_then_give_up(conn: psycopg.Connection) -> None:
    put(conn, 30)
    job = claim_next(conn, claim_timeout_seconds=300)
    assert job is not None
    assert fail(conn, job, "boom", permanent=False, policy=JobRetry(2, 3600)) == "pending"
    assert claim_next(conn, claim_timeout_seconds=300) is None  # waiting for its backoff
    conn.execute("update assistant.inbox set available_at = now() where id = %s", (job.id,))
    job = claim_next(conn, claim_timeout_seconds=300)
    assert job is not None
    assert job.attempts == 2
    assert fail(conn, job, "boom again", permanent=False, policy=JobRetry(2, 0)) == "failed"
    row = conn.execute(
        "select status, attempts, last_error from assistant.inbox where id = %s", (job.id,)
    ).fetchone()
    assert row == ("failed", 2, "boom again")


def test_worker_records_errors_and_outcomes(database_url: str, conn: psycopg.Connection) -> None:
    ok_id, _, _ = put(conn, 40)
    bad_id, _, _ = put(conn, 41)
    flaky_id, _, _ = put(conn, 42)
    seen: list[int] = []

    def handler(_: psycopg.Connection, job: Job) -> tuple[str, str]:
        seen.append(job.task_id)
        if job.task_id == 41:
            raise PermanentJobError("payload is not a ticket")
        if job.task_id == 42:
            raise RuntimeError("temporary")
        return "done", "posted"

    worker = InboxWorker(database_url, handler, policy=JobRetry(3, 3600))
    assert worker.run_pending() == 3
    assert seen == [40, 41, 42]
    rows = dict(
        conn.execute(
            "select id, status || ':' || coalesce(last_error, outcome) from assistant.inbox"
        ).fetchall()
    )
    assert rows[ok_id] == "done:posted"
    assert rows[bad_id] == "failed:PermanentJobError: payload is not a ticket"
    assert rows[flaky_id] == "pending:RuntimeError: temporary"
    assert worker.run_pending() == 0  # the flaky one waits for its backoff
    worker.stop()


def test_worker_thread_processes_and_stops(database_url: str, conn: psycopg.Connection) -> None:
    done: list[int] = []

    def handler(_: psycopg.Connection, job: Job) -> tuple[str, str]:
        done.append(job.task_id)
        return "done", "ok"

    worker = InboxWorker(database_url, handler, poll_seconds=0.05)
    worker.start()
    put(conn, 50)
    worker.wake()
    for _ in range(200):
        if inbox_counts(conn).get("done"):
            break
        time.sleep(0.05)
    worker.stop()
    assert done == [50]
