"""Case 2 of issue #25: a job reclaimed from a worker that is still working is posted once.

A claim is a lease with a fencing token; the POST passes a fence that checks the token
(inbox.begin_post), and a job has one overall deadline, well under the claim timeout, so
a slow Pyrus cannot stretch it past its lease.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from assistant.bot.inbox import LeaseLost, claim_next
from assistant.bot.inbox_worker import InboxWorker
from assistant.db import connect
from sample_data.emulators.sandbox import Sandbox
from tests.bot.test_pipeline import (
    Bot,
    bot_comments,
    new_task,
    suggestion_row,
    wait_finished,
)

pytestmark = pytest.mark.db


def _expire_lease(database_url: str, job_id: int) -> None:
    """The claim timeout passes for a job whose worker is still busy (it hung, or paused)."""
    with connect(database_url, autocommit=True) as conn:
        conn.execute(
            "update assistant.inbox set lease_until = now() - interval '1 second',"
            " claimed_at = now() - interval '1 hour' where id = %s",
            (job_id,),
        )


def test_the_old_holder_of_a_reclaimed_job_cannot_post(
    sandbox: Sandbox, start_bot: Callable[..., Bot]
) -> None:
    """Worker A generates slowly; meanwhile its lease runs out, B takes the job and posts.

    Before the fix A then posted too (it had read `post_attempts` before generating).
    """
    bot = start_bot(bot_worker_in_app=False)
    task_id = new_task(sandbox)
    assert sandbox.send_webhook(bot.url, task_id).ok
    pipeline = bot.pipeline
    real_generate = pipeline.generate
    outcomes: list[tuple[str, str]] = []

    def generate_while_reclaimed(*args: Any, **kwargs: Any) -> Any:
        result = real_generate(*args, **kwargs)
        pipeline.generate = real_generate  # type: ignore[method-assign]
        _expire_lease(bot.database_url, held.id)
        with connect(bot.database_url, autocommit=True) as conn_b:
            taken = claim_next(conn_b, claim_timeout_seconds=300)
            assert taken is not None
            assert taken.id == held.id
            assert taken.lease == held.lease + 1
            outcomes.append(pipeline.handle_job(conn_b, taken))
        return result

    pipeline.generate = generate_while_reclaimed  # type: ignore[method-assign]
    with connect(bot.database_url, autocommit=True) as conn_a:
        held = claim_next(conn_a, claim_timeout_seconds=300)
        assert held is not None
        try:
            pipeline.handle_job(conn_a, held)
            refused = False
        except LeaseLost:
            refused = True
    assert outcomes[0][0] == "done"
    assert len(bot_comments(sandbox, task_id)) == 1
    assert refused
    [comment] = bot_comments(sandbox, task_id)
    assert suggestion_row(bot.database_url, task_id)["comment_id"] == comment["id"]


def test_a_job_ends_within_its_deadline_when_pyrus_is_slow(
    sandbox: Sandbox, start_bot: Callable[..., Bot]
) -> None:
    """Pyrus answers the POST after 4 s (15 s per-read timeout): the job stops at its 2 s
    deadline, waits for the recheck, finds the comment that landed and posts no other.

    Before the fix the job waited the whole 4 s: per-read timeouts let it run on.
    """
    bot = start_bot(
        bot_worker_in_app=False,
        bot_claim_timeout_seconds=60.0,
        bot_job_deadline_seconds=2.0,
        pyrus_timeout_seconds=15.0,
        bot_post_recheck_seconds=3.0,
    )
    task_id = new_task(sandbox)
    path = f"/v4/tasks/{task_id}/comments"
    assert sandbox.send_webhook(bot.url, task_id).ok
    sandbox.pyrus.faults.delay_next(1, seconds=4.0, path_prefix=path)
    worker = InboxWorker.from_settings(
        bot.database_url, bot.pipeline.handle_job, bot.pipeline.settings
    )
    started = time.monotonic()
    assert worker.run_once()
    assert time.monotonic() - started < 3.5
    assert wait_finished(bot.database_url, task_id, jobs=0) == []  # waiting, not failed
    deadline = time.monotonic() + 30
    while not wait_finished(bot.database_url, task_id, jobs=0) and time.monotonic() < deadline:
        worker.run_pending()
        time.sleep(0.1)
    assert wait_finished(bot.database_url, task_id)[0][0] == "done"
    assert len(bot_comments(sandbox, task_id)) == 1
    assert sandbox.pyrus.log.count("POST", path) == 1
