"""Finding 1: a comment is posted at most once, whatever happens to Pyrus's answer.

The proxy forwards the POST to the emulator (the comment is applied) and then answers
after the client timeout, or replaces the answer with a 502. The control (no marker,
the pre-fix behaviour) posts twice; with the marker the client looks before retrying.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from assistant.bot.comment_format import HEADING, CommentBody
from assistant.bot.pyrus_client import PyrusPoster, PyrusUnavailable
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
def test_post_retried_after_a_lost_answer_posts_once(
    sandbox: Sandbox, fault_proxy: FaultProxy, fault: str
) -> None:
    results = {}
    for marker in (None, "kb:900001"):  # the control first: no marker, blind retry
        task_id = new_task(sandbox)
        path = f"/v4/tasks/{task_id}/comments"
        if fault == "late-answer":
            fault_proxy.delay_after_forward("POST", path, seconds=1.5)
        else:
            fault_proxy.drop_after_forward("POST", path, status=502)
        comment_id = _poster(sandbox, fault_proxy).post_comment(
            task_id, BODY, token=None, marker=marker
        )
        results[marker] = (len(bot_comments(sandbox, task_id)), comment_id, task_id)
    assert results[None][0] == 2  # the fault is real: a blind retry duplicates the comment
    count, comment_id, task_id = results["kb:900001"]
    assert count == 1
    assert comment_id == bot_comments(sandbox, task_id)[0]["id"]
    assert bot_comments(sandbox, task_id)[0]["text"].endswith("\n\nkb:900001")
    assert fault_proxy.count("POST", f"/v4/tasks/{task_id}/comments") == 1


def test_failed_check_stops_the_retry(sandbox: Sandbox, fault_proxy: FaultProxy) -> None:
    """If the comments cannot be read, the POST is not sent blind a second time."""
    task_id = new_task(sandbox)
    fault_proxy.drop_after_forward("POST", f"/v4/tasks/{task_id}/comments", status=502)
    fault_proxy.drop_after_forward("GET", f"/v4/tasks/{task_id}", status=502, n=10)
    with pytest.raises(PyrusUnavailable, match="before a retry"):
        _poster(sandbox, fault_proxy).post_comment(task_id, BODY, token=None, marker="kb:900002")
    assert len(bot_comments(sandbox, task_id)) == 1
    assert fault_proxy.count("POST", f"/v4/tasks/{task_id}/comments") == 1


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
