"""Case 3 of issue #25: a ticket is not lost to a long outage.

Transient failures (Pyrus unreachable) retry until the horizon, not for 5 attempts; a job
that failed comes back with a redelivery of its event, with the customer's next message
or with `kb inbox retry`; `kb inbox` lists failed jobs and dead letters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from assistant.bot.webhook import sign
from assistant.db import connect
from flows.cli import app
from sample_data.emulators.sandbox import Sandbox
from tests.bot.test_pipeline import Bot, bot_comments, new_task, wait_finished

pytestmark = pytest.mark.db


def _inbox(database_url: str, task_id: int) -> list[tuple[Any, ...]]:
    with connect(database_url, autocommit=True) as conn:
        return conn.execute(
            "select id, status, attempts, outcome from assistant.inbox where task_id = %s"
            " order by id",
            (task_id,),
        ).fetchall()


def _failed(sandbox: Sandbox, bot: Bot) -> int:
    """A ticket whose job failed for good: Pyrus refused every POST past the horizon."""
    task_id = new_task(sandbox)
    sandbox.pyrus.faults.fail_next(1000, status=503, path_prefix=f"/v4/tasks/{task_id}")
    assert sandbox.send_webhook(bot.url, task_id).ok
    assert wait_finished(bot.database_url, task_id)[0][0] == "failed"
    sandbox.pyrus.faults.clear()  # the outage ends
    assert bot_comments(sandbox, task_id) == []
    return task_id


def test_an_outage_longer_than_the_attempts_does_not_fail_the_job(
    sandbox: Sandbox, start_bot: Callable[..., Bot]
) -> None:
    """Before the fix the job was `failed` for good after BOT_MAX_ATTEMPTS (here 2)."""
    bot = start_bot(bot_max_attempts=2, bot_retry_horizon_seconds=3600.0)
    task_id = new_task(sandbox)
    sandbox.pyrus.faults.fail_next(12, status=503, path_prefix=f"/v4/tasks/{task_id}")
    assert sandbox.send_webhook(bot.url, task_id).ok
    [(status, outcome, _)] = wait_finished(bot.database_url, task_id)
    assert status == "done", outcome
    [(_id, _status, attempts, _outcome)] = _inbox(bot.database_url, task_id)
    assert attempts > 2
    assert len(bot_comments(sandbox, task_id)) == 1


def test_a_redelivery_revives_a_failed_job(sandbox: Sandbox, start_bot: Callable[..., Bot]) -> None:
    """Before the fix a redelivery only bumped `deliveries` of the failed job."""
    bot = start_bot(bot_retry_horizon_seconds=0.0)
    task_id = _failed(sandbox, bot)
    assert sandbox.send_webhook(bot.url, task_id).ok  # Pyrus's retry of the same event
    [(status, _outcome, deliveries)] = wait_finished(bot.database_url, task_id)
    assert (status, deliveries) == ("done", 2)
    assert len(bot_comments(sandbox, task_id)) == 1


def test_a_redelivery_makes_a_job_waiting_out_its_backoff_ready(
    sandbox: Sandbox, start_bot: Callable[..., Bot]
) -> None:
    bot = start_bot(bot_retry_backoff_seconds=3600.0, bot_retry_backoff_max_seconds=3600.0)
    task_id = new_task(sandbox)
    sandbox.pyrus.faults.fail_next(1, status=503, path_prefix=f"/v4/tasks/{task_id}/comments")
    assert sandbox.send_webhook(bot.url, task_id).ok
    for _ in range(100):
        if sandbox.pyrus.log.count("POST", f"/v4/tasks/{task_id}/comments"):
            break
        time.sleep(0.05)
    time.sleep(0.3)
    [(_id, status, _attempts, _outcome)] = _inbox(bot.database_url, task_id)
    assert status == "pending"  # an hour of backoff ahead
    assert sandbox.send_webhook(bot.url, task_id).ok  # Pyrus's retry
    assert wait_finished(bot.database_url, task_id)[0][0] == "done"
    assert len(bot_comments(sandbox, task_id)) == 1


def test_the_customers_next_message_revives_a_failed_job(
    sandbox: Sandbox, start_bot: Callable[..., Bot]
) -> None:
    """Before the fix it was skipped as "a later event of a ticket already handled"."""
    bot = start_bot(bot_retry_horizon_seconds=0.0)
    task_id = _failed(sandbox, bot)
    comments = sandbox.pyrus.dataset.tasks[task_id]["comments"]
    comments.append({**comments[0], "id": comments[0]["id"] + 10_000, "text": "Так что с письмом?"})
    sandbox.pyrus.dataset.touch(task_id)
    assert sandbox.send_webhook(bot.url, task_id).ok
    rows = wait_finished(bot.database_url, task_id, jobs=2)
    assert [row[0] for row in rows] == ["done", "skipped"]
    assert "revived" in rows[1][1]
    assert len(bot_comments(sandbox, task_id)) == 1


def test_kb_inbox_lists_failed_jobs_and_dead_letters_and_retry_requeues(
    sandbox: Sandbox, start_bot: Callable[..., Bot], kb_env: str
) -> None:
    bot = start_bot(bot_retry_horizon_seconds=0.0)
    first, second = _failed(sandbox, bot), _failed(sandbox, bot)
    bad = b'{"task": {"id": true}}'
    headers = {"X-Pyrus-Sig": sign(sandbox.bot_secret, bad)}
    assert httpx.post(bot.url, content=bad, headers=headers).status_code == 400
    runner = CliRunner()
    listing = runner.invoke(app, ["inbox"])
    assert listing.exit_code == 0, listing.output
    [first_id] = [row[0] for row in _inbox(kb_env, first)]
    [second_id] = [row[0] for row in _inbox(kb_env, second)]
    lines = listing.output.splitlines()
    assert any(str(first) in line and "failed" in line for line in lines)
    assert any("dead letter" in line and "task.id" in line for line in lines)

    one = runner.invoke(app, ["inbox", "retry", str(first_id)])
    assert one.exit_code == 0, one.output
    assert f"re-queued 1 job(s): {first_id}" in one.output
    assert wait_finished(kb_env, first)[0][0] == "done"
    assert len(bot_comments(sandbox, first)) == 1
    again = runner.invoke(app, ["inbox", "retry", str(first_id)])  # done: never re-posted
    assert "re-queued 0 job(s)" in again.output

    every = runner.invoke(app, ["inbox", "retry", "--failed"])
    assert every.exit_code == 0, every.output
    assert str(second_id) in every.output
    assert wait_finished(kb_env, second)[0][0] == "done"
    assert len(bot_comments(sandbox, second)) == 1
    time.sleep(0.3)
    assert len(bot_comments(sandbox, first)) == 1
