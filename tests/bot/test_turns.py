# ruff: noqa: F811 - the emulator fixtures are imported from test_pipeline and used by name
"""Conversation turns end to end: signed webhook → inbox → turn → Pyrus emulator.

A follow-up gets exactly one new internal comment about the new message, thanks gets
none, an engineer's mention gets a threaded reply with a cited source, holdout tickets
get nothing, and redelivered or concurrent events never double a comment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest

from assistant.bot.inbox import claim_next, enqueue
from assistant.bot.pipeline import drain_inbox
from assistant.bot.pyrus_models import WebhookPayload
from assistant.bot.turns import FOLLOW_UP_HEADING, QUESTION_HEADING
from assistant.db import connect
from sample_data.emulators.sandbox import Sandbox
from tests.bot.test_pipeline import (  # noqa: F401 - fixtures
    Bot,
    new_task,
    sandbox,
    start_bot,
    wait_finished,
)

pytestmark = pytest.mark.db


def add_comment(
    sandbox: Sandbox, task_id: int, text: str, *, staff: bool = False, **extra: Any
) -> int:
    """A comment written in Pyrus by the customer (by e-mail) or by an engineer."""
    task = sandbox.pyrus.dataset.tasks[task_id]
    comment: dict[str, Any] = {
        "id": sandbox.pyrus._take_comment_id(),
        "create_date": "2026-11-21T00:00:00Z",
        "text": text,
        **extra,
    }
    if staff:
        comment["author"] = {"id": 1184377, "first_name": "Марина", "type": "user"}
    else:
        first = task["comments"][0]
        comment["author"] = first["author"]
        if first.get("channel"):
            comment["channel"] = {"type": "email", "from": first["channel"].get("from", {})}
    task["comments"].append(comment)
    sandbox.pyrus.dataset.touch(task_id)
    return comment["id"]


def comments_with(sandbox: Sandbox, task_id: int, heading: str) -> list[dict[str, Any]]:
    return [
        c
        for c in sandbox.pyrus.dataset.tasks[task_id]["comments"]
        if str(c.get("text", "")).startswith(heading)
    ]


def turn_rows(database_url: str, task_id: int) -> list[dict[str, Any]]:
    with connect(database_url, autocommit=True) as conn:
        cursor = conn.execute(
            "select * from assistant.suggestion_turns where task_id = %s order by id", (task_id,)
        )
        names = [c.name for c in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def answered_ticket(sandbox: Sandbox, bot: Bot) -> int:
    task_id = new_task(sandbox)
    sandbox.send_webhook(bot.url, task_id)
    wait_finished(bot.database_url, task_id)
    return task_id


def test_follow_up_gets_one_comment_about_the_new_message(
    sandbox: Sandbox, start_bot: Callable[..., Bot]
) -> None:
    bot = start_bot()
    task_id = answered_ticket(sandbox, bot)
    [first] = comments_with(sandbox, task_id, "Рекомендация ИИ-помощника")
    message = add_comment(sandbox, task_id, "Письма в папке «Спам» нет, журнал рассылок пустой.")
    delivery = sandbox.send_webhook(bot.url, task_id)
    assert delivery.ok
    rows = wait_finished(bot.database_url, task_id, jobs=2)
    assert rows[1][0] == "done"
    [comment] = comments_with(sandbox, task_id, FOLLOW_UP_HEADING)
    assert "channel" not in comment
    assert "Новое сообщение: «Письма в папке «Спам» нет" in comment["text"]
    assert comment["text"] != first["text"]
    [turn] = turn_rows(bot.database_url, task_id)
    assert (turn["kind"], turn["trigger_comment_id"]) == ("follow_up", message)
    assert turn["comment_id"] == comment["id"]
    with connect(bot.database_url, autocommit=True) as conn:
        kinds = conn.execute(
            "select kind from assistant.suggestion_messages where task_id = %s order by kind",
            (task_id,),
        ).fetchall()
    assert kinds == [("first",), ("follow_up",)]


def test_thanks_gets_nothing(sandbox: Sandbox, start_bot: Callable[..., Bot]) -> None:
    bot = start_bot()
    task_id = answered_ticket(sandbox, bot)
    add_comment(sandbox, task_id, "Спасибо, всё пришло!")
    sandbox.send_webhook(bot.url, task_id)
    rows = wait_finished(bot.database_url, task_id, jobs=2)
    assert rows[1][:2] == ("skipped", "needs no answer: an acknowledgement")
    assert comments_with(sandbox, task_id, FOLLOW_UP_HEADING) == []
    assert turn_rows(bot.database_url, task_id) == []


def test_engineer_mention_gets_a_threaded_reply_with_a_source(
    sandbox: Sandbox, start_bot: Callable[..., Bot]
) -> None:
    bot = start_bot()
    task_id = answered_ticket(sandbox, bot)
    bot_id = sandbox.pyrus.person_for_login(sandbox.pyrus_login)["id"]
    question = add_comment(
        sandbox,
        task_id,
        "Что делать, если письмо для сброса пароля не приходит?",
        staff=True,
        mentions=[bot_id],
    )
    sandbox.send_webhook(bot.url, task_id)
    wait_finished(bot.database_url, task_id, jobs=2)
    [answer] = comments_with(sandbox, task_id, QUESTION_HEADING)
    assert answer["reply_note_id"] == question
    assert "channel" not in answer
    assert "https://wiki.example/pages/1" in answer["formatted_text"]
    assert "Черновик ответа клиенту" not in answer["text"]
    [turn] = turn_rows(bot.database_url, task_id)
    assert turn["kind"] == "question"
    assert turn["cited_document_ids"]


def test_staff_notes_without_address_get_nothing(
    sandbox: Sandbox, start_bot: Callable[..., Bot]
) -> None:
    bot = start_bot()
    task_id = answered_ticket(sandbox, bot)
    add_comment(sandbox, task_id, "Игорь, посмотри логи, пожалуйста.", staff=True, mentions=[1])
    sandbox.send_webhook(bot.url, task_id)
    rows = wait_finished(bot.database_url, task_id, jobs=2)
    assert rows[1][:2] == ("skipped", "a staff comment not addressed to the bot")


def test_holdout_ticket_gets_no_comment_for_any_turn(
    sandbox: Sandbox, start_bot: Callable[..., Bot]
) -> None:
    bot = start_bot(assistant_holdout=1.0)
    task_id = answered_ticket(sandbox, bot)
    add_comment(sandbox, task_id, "Письма нет и в папке «Спам», проверила дважды.")
    sandbox.send_webhook(bot.url, task_id)
    wait_finished(bot.database_url, task_id, jobs=2)
    add_comment(sandbox, task_id, "/kb где журнал рассылок?", staff=True)
    sandbox.send_webhook(bot.url, task_id)
    rows = wait_finished(bot.database_url, task_id, jobs=3)
    assert [row[1].split(":")[0] for row in rows[1:]] == ["holdout", "holdout"]
    comments = sandbox.pyrus.dataset.tasks[task_id]["comments"]
    assert all(c["author"].get("type") != "bot" for c in comments)
    assert [row["kind"] for row in turn_rows(bot.database_url, task_id)] == [
        "follow_up",
        "question",
    ]
    assert all(row["posted_at"] is None for row in turn_rows(bot.database_url, task_id))


def test_redelivered_follow_up_posts_once(sandbox: Sandbox, start_bot: Callable[..., Bot]) -> None:
    bot = start_bot(bot_worker_in_app=False)
    task_id = new_task(sandbox)
    sandbox.send_webhook(bot.url, task_id)
    drain_inbox(bot.database_url, bot.pipeline)
    add_comment(sandbox, task_id, "Письма нет и в папке «Спам», проверила дважды.")
    first = sandbox.send_webhook(bot.url, task_id)
    headers = {**first.attempts[0].headers, "X-Pyrus-Retry": "2/3"}
    for _ in range(3):
        again = httpx.post(bot.url, content=first.payload, headers=headers, timeout=10)
        assert again.headers["X-Kb-Duplicate"] == "true"
    drain_inbox(bot.database_url, bot.pipeline)
    httpx.post(bot.url, content=first.payload, headers=headers, timeout=10)  # late retry
    drain_inbox(bot.database_url, bot.pipeline)
    # the same comment again under another event name is another inbox job, same turn
    sandbox.send_webhook(bot.url, task_id, event="task_created")
    drain_inbox(bot.database_url, bot.pipeline)
    assert len(comments_with(sandbox, task_id, FOLLOW_UP_HEADING)) == 1
    assert len(turn_rows(bot.database_url, task_id)) == 1


def test_concurrent_jobs_for_one_message_post_once(
    sandbox: Sandbox, start_bot: Callable[..., Bot]
) -> None:
    bot = start_bot(bot_worker_in_app=False)
    task_id = new_task(sandbox)
    sandbox.send_webhook(bot.url, task_id)
    drain_inbox(bot.database_url, bot.pipeline)
    add_comment(sandbox, task_id, "Письма нет и в папке «Спам», проверила дважды.")
    task = sandbox.pyrus.get_task(task_id)
    token = sandbox.pyrus.issue_token(sandbox.pyrus_login)
    bot_id = sandbox.pyrus.tokens[token].person["id"]
    payload = WebhookPayload.model_validate(
        {"event": "comment", "task_id": task_id, "user_id": bot_id, "task": task}
    )
    jobs = []
    with connect(bot.database_url, autocommit=True) as conn:
        for event in ("comment", "task_created", "comment_edited"):  # 3 distinct inbox rows
            enqueue(
                conn,
                task_id=task_id,
                event=event if event != "comment_edited" else "comment",
                form_id=task["form_id"],
                comment_id=task["comments"][-1]["id"] if event != "comment_edited" else None,
                payload=payload.model_dump(mode="json") | {"event": "comment"},
                access_token=token,
                retry_header=None,
            )
        for _ in range(3):
            job = claim_next(conn, claim_timeout_seconds=300)
            assert job is not None
            jobs.append(job)
    barrier = threading.Barrier(len(jobs))
    outcomes: list[tuple[str, str]] = []

    def run(job: Any) -> None:
        with psycopg.connect(bot.database_url, autocommit=True) as conn:
            barrier.wait()
            outcomes.append(bot.pipeline.handle_job(conn, job))

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(outcomes) == 3
    assert len(comments_with(sandbox, task_id, FOLLOW_UP_HEADING)) == 1
    assert sum(outcome[1].startswith("follow_up posted") for outcome in outcomes) == 1


def test_a_bot_sent_only_the_last_comment_reads_the_thread(
    sandbox: Sandbox, start_bot: Callable[..., Bot]
) -> None:
    from sample_data.emulators.webhook_sender import send_task_event

    bot = start_bot()
    task_id = answered_ticket(sandbox, bot)
    add_comment(sandbox, task_id, "Письма нет и в папке «Спам», проверила дважды.")
    task = sandbox.pyrus.get_task(task_id)
    only_last = {**task, "comments": task["comments"][-1:]}  # "send only the last comment"
    token = sandbox.pyrus.issue_token(sandbox.pyrus_login)
    bot_id = int(sandbox.pyrus.tokens[token].person["id"])
    send_task_event(bot.url, only_last, sandbox.bot_secret, access_token=token, user_id=bot_id)
    wait_finished(bot.database_url, task_id, jobs=2)
    [comment] = comments_with(sandbox, task_id, FOLLOW_UP_HEADING)
    assert "Новое сообщение: «Письма нет" in comment["text"]


def test_follow_up_applied_late_by_pyrus_posts_once(
    sandbox: Sandbox, start_bot: Callable[..., Bot]
) -> None:
    """A turn posts through the same fenced path as the first comment (bot/posting.py).

    Pyrus applies the follow-up's POST 1.5 s after it was sent; the client gave up after
    0.5 s. The job waits `BOT_POST_RECHECK_SECONDS`, finds its marker: one comment.
    """
    bot = start_bot(pyrus_timeout_seconds=0.5, bot_post_recheck_seconds=3.0)
    task_id = answered_ticket(sandbox, bot)
    add_comment(sandbox, task_id, "Письма нет и в папке «Спам», проверила дважды.")
    path = f"/v4/tasks/{task_id}/comments"
    posts_before = sandbox.pyrus.log.count("POST", path)
    sandbox.pyrus.faults.apply_late_next(apply_after=1.5, answer_after=2.0, path_prefix=path)
    assert sandbox.send_webhook(bot.url, task_id).ok
    rows = wait_finished(bot.database_url, task_id, jobs=2)
    assert rows[1][0] == "done"
    time.sleep(1.0)  # anything still in flight lands
    [comment] = comments_with(sandbox, task_id, FOLLOW_UP_HEADING)
    [turn] = turn_rows(bot.database_url, task_id)
    assert turn["comment_id"] == comment["id"]
    assert sandbox.pyrus.log.count("POST", path) == posts_before + 1
