"""Redelivery storms (the same event 5×, one after another and all at once) and finding 5:
the Pyrus token lives only as long as the job needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from assistant.bot.inbox import JobRetry, claim_next, enqueue, fail, finish
from assistant.db import connect
from sample_data.emulators.sandbox import Sandbox
from tests.bot.test_pipeline import Bot, bot_comments, new_task, wait_finished

pytestmark = pytest.mark.db


@pytest.mark.parametrize("concurrent", [False, True], ids=["sequential", "concurrent"])
def test_same_event_five_times_is_one_job_one_comment(
    sandbox: Sandbox, start_bot: Callable[..., Bot], concurrent: bool
) -> None:
    bot = start_bot()
    task_id = new_task(sandbox)
    first = sandbox.send_webhook(bot.url, task_id)
    assert first.ok
    headers = first.attempts[0].headers

    def deliver(number: int) -> int:
        retry = {"X-Pyrus-Retry": f"{number % 3 + 1}/3"} if number % 2 else {}
        response = httpx.post(bot.url, content=first.payload, headers={**headers, **retry})
        return response.status_code

    if concurrent:
        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(deliver, range(4)))
    else:
        statuses = [deliver(number) for number in range(4)]
    assert statuses == [200] * 4
    [(status, _outcome, deliveries)] = wait_finished(bot.database_url, task_id)
    assert (status, deliveries) == ("done", 5)
    assert len(bot_comments(sandbox, task_id)) == 1


def _token(conn: object, inbox_id: int) -> object:
    row = conn.execute(  # type: ignore[attr-defined]
        "select access_token from assistant.inbox where id = %s", (inbox_id,)
    ).fetchone()
    return row[0]


@pytest.mark.parametrize("ending", ["done", "failed"])
def test_redelivery_does_not_write_the_token_back(database_url: str, ending: str) -> None:
    def deliver(conn: object, token: str) -> int:
        return enqueue(
            conn,  # type: ignore[arg-type]
            task_id=990_001 if ending == "done" else 990_002,
            event="comment",
            form_id=1,
            comment_id=1,
            payload={"task": {"id": 1}},
            access_token=token,
            retry_header=None,
        ).inbox_id

    with connect(database_url, autocommit=True) as conn:
        conn.execute("truncate assistant.inbox cascade")
        inbox_id = deliver(conn, "first-token")
        assert deliver(conn, "fresher-token") == inbox_id
        assert _token(conn, inbox_id) == "fresher-token"  # a waiting job gets the fresh one
        job = claim_next(conn, claim_timeout_seconds=300)
        assert job is not None
        if ending == "done":
            finish(conn, job.id, status="done", outcome="posted")
        else:
            fail(conn, job, "boom", permanent=True, policy=JobRetry(5, 0))
        assert _token(conn, inbox_id) is None
        assert deliver(conn, "late-token") == inbox_id  # Pyrus retries after we finished
        status = conn.execute(
            "select status from assistant.inbox where id = %s", (inbox_id,)
        ).fetchone()
        if ending == "done":
            assert _token(conn, inbox_id) is None
            assert status == ("done",)
        else:  # a failed job never posted: the redelivery revives it, with a token to post
            assert _token(conn, inbox_id) == "late-token"
            assert status == ("pending",)
