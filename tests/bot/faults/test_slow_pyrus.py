"""Case 1 of issue #25: a comment is posted at most once, whatever happens to Pyrus's answer,
even when Pyrus applies the POST late (after the client timed out and looked).

The proxy forwards the POST to the emulator (the comment is applied) and then answers
after the client timeout, or replaces the answer with a 502. The emulator's late-apply
mode accepts the POST and applies it seconds later: a client that looks at once finds
nothing. The client never re-sends a POST it sent; the job waits
`BOT_POST_RECHECK_SECONDS`, then looks for its `kb:<id>` marker.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from assistant.bot.comment_format import HEADING, CommentBody
from assistant.bot.pyrus_client import PostOutcomeUnknown, PyrusPoster
from assistant.db import connect
from sample_data.emulators.sandbox import Sandbox
from tests.bot.faults.proxy import FaultProxy
from tests.bot.test_pipeline import (
    Bot,
    bot_comments,
    make_settings,
    new_task,
    suggestion_row,
    wait_finished,
)

pytestmark = pytest.mark.db

BODY = CommentBody(text=f"{HEADING}: проверка", formatted_text=f"<p>{HEADING}</p>")


def _poster(sandbox: Sandbox, proxy: FaultProxy) -> PyrusPoster:
    settings = make_settings(sandbox, pyrus_api_url=f"{proxy.url}/v4/", pyrus_timeout_seconds=0.5)
    return PyrusPoster(settings, sleep=lambda _s: None)


@pytest.mark.parametrize("fault", ["late-answer", "502-after-apply"])
def test_a_post_with_a_lost_answer_is_not_sent_again(
    sandbox: Sandbox, fault_proxy: FaultProxy, fault: str
) -> None:
    task_id = new_task(sandbox)
    path = f"/v4/tasks/{task_id}/comments"
    if fault == "late-answer":
        fault_proxy.delay_after_forward("POST", path, seconds=1.5)
    else:
        fault_proxy.drop_after_forward("POST", path, status=502)
    with pytest.raises(PostOutcomeUnknown):
        _poster(sandbox, fault_proxy).post_comment(task_id, BODY, token=None, marker="kb:900001")
    assert fault_proxy.count("POST", path) == 1
    [comment] = bot_comments(sandbox, task_id)
    assert comment["text"].endswith("\n\nkb:900001")


def test_pyrus_applying_late_gets_one_comment(
    sandbox: Sandbox, start_bot: Callable[..., Bot]
) -> None:
    """The POST lands 1.5 s after it was sent, the client gave up after 0.5 s: one comment.

    Before the fix the client looked at once, found no marker and posted again: both
    comments landed, with the same marker.
    """
    bot = start_bot(pyrus_timeout_seconds=0.5, bot_post_recheck_seconds=3.0)
    task_id = new_task(sandbox)
    path = f"/v4/tasks/{task_id}/comments"
    sandbox.pyrus.faults.apply_late_next(apply_after=1.5, answer_after=2.0, path_prefix=path)
    assert sandbox.send_webhook(bot.url, task_id).ok
    assert wait_finished(bot.database_url, task_id)[0][0] == "done"
    time.sleep(1.0)  # anything still in flight lands
    [comment] = bot_comments(sandbox, task_id)
    assert suggestion_row(bot.database_url, task_id)["comment_id"] == comment["id"]
    assert sandbox.pyrus.log.count("POST", path) == 1


def test_a_post_that_never_landed_is_sent_again_after_the_check(
    sandbox: Sandbox, start_bot: Callable[..., Bot]
) -> None:
    """Nothing lost either: a 502 before Pyrus applied it, no marker later, one new POST."""
    bot = start_bot(pyrus_timeout_seconds=0.5, bot_post_recheck_seconds=1.0)
    task_id = new_task(sandbox)
    path = f"/v4/tasks/{task_id}/comments"
    sandbox.pyrus.faults.fail_next(1, status=502, path_prefix=path)
    started = time.monotonic()
    assert sandbox.send_webhook(bot.url, task_id).ok
    assert wait_finished(bot.database_url, task_id)[0][0] == "done"
    assert time.monotonic() - started >= 1.0  # it waited for the recheck
    assert len(bot_comments(sandbox, task_id)) == 1
    assert sandbox.pyrus.log.count("POST", path) == 2


def test_a_failed_check_keeps_the_job_waiting(
    sandbox: Sandbox, fault_proxy: FaultProxy, start_bot: Callable[..., Bot]
) -> None:
    """If the task cannot be read after an unknown outcome, nothing is posted blind."""
    bot = start_bot(pyrus_api_url=f"{fault_proxy.url}/v4/", pyrus_post_retries=0)
    task_id = new_task(sandbox)
    fault_proxy.drop_after_forward("POST", f"/v4/tasks/{task_id}/comments", status=502)
    fault_proxy.drop_after_forward("GET", f"/v4/tasks/{task_id}", status=502, n=1000)
    assert sandbox.send_webhook(bot.url, task_id).ok
    time.sleep(1.5)  # many worker rounds (no backoff in tests)
    assert fault_proxy.count("POST", f"/v4/tasks/{task_id}/comments") == 1
    assert len(bot_comments(sandbox, task_id)) == 1
    with connect(bot.database_url, autocommit=True) as conn:
        row = conn.execute(
            "select status, last_error from assistant.inbox where task_id = %s", (task_id,)
        ).fetchone()
    assert row is not None
    assert row[0] in ("pending", "processing")  # still retrying, not failed, not posted
    fault_proxy.faults.clear()


def test_bot_posts_once_through_a_slow_pyrus(
    sandbox: Sandbox, fault_proxy: FaultProxy, start_bot: Callable[..., Bot]
) -> None:
    """End to end: webhook → worker → POST answered after the timeout → one comment."""
    bot = start_bot(pyrus_api_url=f"{fault_proxy.url}/v4/", pyrus_timeout_seconds=0.5)
    task_id = new_task(sandbox)
    path = f"/v4/tasks/{task_id}/comments"
    fault_proxy.delay_after_forward("POST", path, seconds=1.5)
    assert sandbox.send_webhook(bot.url, task_id).ok
    assert wait_finished(bot.database_url, task_id)[0][0] == "done"
    [comment] = bot_comments(sandbox, task_id)
    assert suggestion_row(bot.database_url, task_id)["comment_id"] == comment["id"]
