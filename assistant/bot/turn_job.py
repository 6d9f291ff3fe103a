"""A conversation turn as an inbox job: classify, claim once, suggest, log, post once.

Called by `pipeline.BotPipeline.handle_job` for a later comment of a ticket that already
has its arm (docs/conversation.md). The turn row's unique (ticket, comment) key decides
which job answers a message (`turn_log.claim_turn`); the holdout arm is the ticket's, so
a holdout ticket's turns are logged and never posted; the post is marked with the job
(`kb:<inbox id>`) and goes through the same fenced path as the first comment
(`posting.post_once`, docs/reliability.md).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import psycopg
from pydantic import ValidationError

from assistant.bot.comment_format import CommentBody
from assistant.bot.conversation import classify_turn, thread_context
from assistant.bot.inbox import Job, RetryLater
from assistant.bot.posting import post_once
from assistant.bot.pyrus_client import PyrusPoster
from assistant.bot.pyrus_models import PyrusTask, WebhookPayload
from assistant.bot.suggest import Suggester
from assistant.bot.suggestion_log import decide_arm, deciding_inbox_id
from assistant.bot.turn_log import (
    claim_turn,
    count_turn_post_attempt,
    record_turn_post_error,
    record_turn_posted,
    save_turn,
)
from assistant.bot.turns import masker, suggest_turn
from assistant.errors import KbError
from assistant.settings import AssistantSettings

logger = logging.getLogger(__name__)


class TurnHost(Protocol):
    """What a turn needs from the bot pipeline (`pipeline.BotPipeline` provides it)."""

    settings: AssistantSettings
    poster: PyrusPoster
    category_names: dict[str, str]

    def suggester(self, conn: psycopg.Connection) -> Suggester: ...


# --- a turn as an inbox job -----------------------------------------------------------------


def handle_turn(
    host: TurnHost, conn: psycopg.Connection, job: Job, payload: WebhookPayload
) -> tuple[str, str] | None:
    """Process a later comment of an already decided ticket; None: not a turn, the
    ticket's first suggestion is still to be made (the caller's path)."""
    settings = host.settings
    task = payload.task
    if not (settings.bot_follow_ups or settings.bot_questions) or not task.comments:
        return None
    handled_by = deciding_inbox_id(conn, job.task_id)
    if handled_by is None or handled_by == job.id:
        return None
    task = with_thread(host.poster, job, task)
    comment = next((c for c in task.comments if c.id == job.comment_id), task.comments[-1])
    if comment.id == task.comments[0].id:
        return None  # the opening message: a redelivered first event, not a turn
    turn = classify_turn(task, comment, payload.user_id, settings.pyrus_bot_names)
    if isinstance(turn, str):
        return "skipped", turn
    enabled = settings.bot_follow_ups if turn.kind == "follow_up" else settings.bot_questions
    if not enabled:
        return "skipped", f"{turn.kind} turns are switched off"
    mask = masker(task)
    row = claim_turn(
        conn, job.task_id, comment.id, turn.kind, inbox_id=job.id, trigger_text=mask(turn.text)
    )
    if row["inbox_id"] != job.id:
        return "skipped", f"comment {comment.id} is answered by inbox job {row['inbox_id']}"
    ticket_row = decide_arm(
        conn, job.task_id, settings.assistant_holdout, origin="webhook", inbox_id=job.id
    )
    if row["generated_at"] is None:
        context = thread_context(task, comment.id, payload.user_id)
        made = suggest_turn(
            host.suggester(conn),
            task,
            turn,
            context,
            category_names=host.category_names,
            draft_field_id=settings.pyrus_draft_field_id,
        )
        save_turn(conn, row["id"], made.suggestion, made.body, repeated_steps=made.repeated_steps)
        body = made.body
    else:
        body = _stored_body(row, settings.pyrus_draft_field_id)
    if ticket_row["arm"] == "holdout":
        return "done", f"holdout: {turn.kind} suggestion logged, not posted"
    if row["posted_at"] is not None:
        return "done", f"already posted as comment {row['comment_id']}"
    return "done", _post(host, conn, job, row, body, payload.user_id)


def with_thread(poster: PyrusPoster, job: Job, task: PyrusTask) -> PyrusTask:
    """The task with its whole thread: a bot set to receive only the last comment
    (docs/pyrus-api.md §7) gets a one-comment task, so the thread is read from the API.

    A rate limit makes the job wait (`PyrusRateLimited`); any other failure leaves the
    one comment, and the turn is answered without the thread rather than not at all.
    """
    if len(task.comments) > 1:
        return task
    try:
        answer = poster.request("GET", f"tasks/{job.task_id}", job.access_token) or {}
        full = PyrusTask.model_validate(answer.get("task") or {})
    except RetryLater:
        raise
    except (KbError, ValidationError) as exc:
        logger.warning(
            "task %d: thread not read, answering the last comment alone: %s", job.task_id, exc
        )
        return task
    return full if len(full.comments) > len(task.comments) else task


def _stored_body(row: dict[str, Any], field_id: int | None) -> CommentBody:
    draft = row["draft_reply"]
    updates = (
        [{"id": field_id, "value": draft}]
        if field_id is not None and draft and row["kind"] == "follow_up"
        else []
    )
    return CommentBody(
        text=row["comment_text"] or "",
        formatted_text=row["comment_html"] or "",
        field_updates=updates,
        reply_note_id=row["reply_note_id"],
    )


def _post(
    host: TurnHost,
    conn: psycopg.Connection,
    job: Job,
    row: dict[str, Any],
    body: CommentBody,
    bot_id: int | None,
) -> str:
    """Post once through the bot's one posting path (`posting.post_once`)."""
    comment_id, post_ms = post_once(
        host.poster,
        host.settings,
        conn,
        job,
        body,
        bot_id,
        on_attempt=lambda: count_turn_post_attempt(conn, row["id"]),
        on_error=lambda error: record_turn_post_error(conn, row["id"], error),
    )
    record_turn_posted(conn, row["id"], comment_id)
    logger.info(
        "task %d: %s turn for comment %d posted as %s in %d ms",
        job.task_id,
        row["kind"],
        row["trigger_comment_id"],
        comment_id,
        post_ms,
    )
    return f"{row['kind']} posted as comment {comment_id}"
