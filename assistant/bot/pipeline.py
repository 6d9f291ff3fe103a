"""The pipeline for one inbox job: decide, log the arm, suggest, post an internal comment.

Order matters for the effect measurement (docs/effect-measurement.md §3.1): the arm is
written to `assistant.suggestions` at decision time, before anything can fail, so a
posting failure never turns a treated ticket into "control". Holdout tickets get the
same suggestion generated and logged, but nothing is posted. A rerun of a job (after a
crash or a retry) reuses the stored suggestion and posts at most once: a comment
already recorded is never posted again; a POST passes the lease fence first
(`inbox.begin_post`: a reclaimed job's old holder cannot post) and is bounded by the
job's deadline; after a POST with an unknown outcome the job waits
`BOT_POST_RECHECK_SECONDS` and searches the task for its marker before posting again
(docs/reliability.md).

The comment is posted without `channel` (docs/pyrus-api.md §5): it stays inside Pyrus and
never reaches the customer.

This module is the sequencing only: the webhook payload lives in `pyrus_models`, the
Pyrus HTTP client in `pyrus_client`, and the suggestion-log SQL in `suggestion_log`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from pydantic import ValidationError

from assistant.bot.comment_format import CommentBody, category_names, format_comment
from assistant.bot.inbox import Job, PermanentJobError
from assistant.bot.inbox_admin import revive_failed
from assistant.bot.models import Suggestion
from assistant.bot.posting import post_once
from assistant.bot.pyrus_client import PyrusPoster
from assistant.bot.pyrus_models import PyrusTask, WebhookPayload, safe_ticket, ticket_from_task
from assistant.bot.suggest import Suggester
from assistant.bot.suggestion_log import (
    count_post_attempt,
    decide_arm,
    deciding_inbox_id,
    record_category,
    record_post_error,
    record_posted,
    save_suggestion,
)
from assistant.bot.turn_job import handle_turn
from assistant.settings import AssistantSettings

logger = logging.getLogger(__name__)

ACTED_EVENTS = frozenset({"comment", "task_created"})
LATER_EVENT = "a later event of a ticket already handled"
# --- the pipeline -----------------------------------------------------------------------


SuggesterFactory = Callable[[psycopg.Connection], Suggester]


@dataclass
class BotPipeline:
    """Handles inbox jobs; `handle_job` is the `JobHandler` given to `InboxWorker`."""

    settings: AssistantSettings
    suggester_factory: SuggesterFactory
    poster: PyrusPoster
    category_names: dict[str, str] = field(default_factory=dict)
    _suggester: Suggester | None = None
    _suggester_conn: psycopg.Connection | None = None

    def suggester(self, conn: psycopg.Connection) -> Suggester:
        """One suggester per connection (the retriever keeps it)."""
        if self._suggester is None or self._suggester_conn is not conn:
            self._suggester, self._suggester_conn = self.suggester_factory(conn), conn
        return self._suggester

    def skip_reason(
        self, conn: psycopg.Connection, payload: WebhookPayload, job: Job
    ) -> str | None:
        """Why this event gets no suggestion, or None to act on it."""
        if payload.event not in ACTED_EVENTS:
            return f"event {payload.event!r} is not acted on"
        form_ids = self.settings.pyrus_form_ids
        if form_ids and payload.task.form_id not in form_ids:
            return f"form {payload.task.form_id} is not in PYRUS_FORM_IDS"
        last = payload.task.comments[-1] if payload.task.comments else None
        if (
            last is not None
            and last.author is not None
            and payload.user_id is not None
            and (last.author.id == payload.user_id)
        ):
            return "the last comment is the bot's own"
        handled_by = deciding_inbox_id(conn, job.task_id)
        if (
            handled_by is not None
            and handled_by != job.id
            and not self.settings.bot_act_on_later_events
        ):
            if revive_failed(conn, handled_by, access_token=job.access_token):
                return f"the ticket's job {handled_by} never posted: revived it"
            return LATER_EVENT
        return None

    def handle_job(self, conn: psycopg.Connection, job: Job) -> tuple[str, str]:
        """Process one inbox job end to end; returns (status, outcome)."""
        try:
            payload = WebhookPayload.model_validate(job.payload)
        except ValidationError as exc:
            raise PermanentJobError(f"stored payload is invalid: {exc.errors()[0]['msg']}") from exc
        reason = self.skip_reason(conn, payload, job)
        if reason in (None, LATER_EVENT):  # a follow-up or a question (docs/conversation.md)
            turn_outcome = handle_turn(self, conn, job, payload)
            if turn_outcome is not None:
                return turn_outcome
        if reason is not None:
            return "skipped", reason
        row = decide_arm(
            conn, job.task_id, self.settings.assistant_holdout, origin="webhook", inbox_id=job.id
        )
        later = row["inbox_id"] != job.id
        if later and not self.settings.bot_act_on_later_events:
            return "skipped", "a later event of a ticket already handled"  # lost a race
        if row["generated_at"] is None or later:
            _, body = self.generate(conn, job.task_id, payload.task, inbox_id=job.id)
        else:
            body = self._stored_body(row)
        if row["arm"] == "holdout":
            return "done", "holdout: suggestion logged, not posted"
        if row["posted_inbox_id"] == job.id:
            return "done", f"already posted as comment {row['comment_id']}"
        return "done", self.post(conn, job, body, payload.user_id)

    def generate(
        self, conn: psycopg.Connection, task_id: int, task: PyrusTask, *, inbox_id: int | None
    ) -> tuple[Suggestion, CommentBody]:
        """Build, format and store the suggestion for a task."""
        ticket = safe_ticket(ticket_from_task(task))
        suggestion = self.suggester(conn).suggest(
            ticket.subject, ticket.description, customer_name=ticket.customer_name
        )
        body = format_comment(
            suggestion,
            category_name=self.category_names.get(suggestion.category_code or ""),
            draft_field_id=self.settings.pyrus_draft_field_id,
        )
        save_suggestion(conn, task_id, suggestion, body, inbox_id=inbox_id)
        record_category(conn, task_id, suggestion)
        return suggestion, body

    def _stored_body(self, row: dict[str, Any]) -> CommentBody:
        field_id = self.settings.pyrus_draft_field_id
        updates = (
            [{"id": field_id, "value": row["draft_reply"]}]
            if field_id is not None and row["draft_reply"]
            else []
        )
        return CommentBody(
            text=row["comment_text"] or "",
            formatted_text=row["comment_html"] or "",
            field_updates=updates,
        )

    def post(
        self, conn: psycopg.Connection, job: Job, body: CommentBody, bot_id: int | None
    ) -> str:
        """Post the ticket's first suggestion at most once (`posting.post_once`)."""
        comment_id, post_ms = post_once(
            self.poster,
            self.settings,
            conn,
            job,
            body,
            bot_id,
            on_attempt=lambda: count_post_attempt(conn, job.task_id),
            on_error=lambda error: record_post_error(conn, job.task_id, error),
        )
        record_posted(conn, job.task_id, comment_id, inbox_id=job.id, post_ms=post_ms)
        return f"posted as comment {comment_id}"


def build_pipeline(
    settings: AssistantSettings,
    *,
    suggester_factory: SuggesterFactory | None = None,
    poster: PyrusPoster | None = None,
) -> BotPipeline:
    """The production pipeline; tests pass their own suggester factory or poster."""
    if suggester_factory is None:
        from assistant.bot.suggest import open_suggester

        def suggester_factory(conn: psycopg.Connection) -> Suggester:
            return open_suggester(conn, settings)

    return BotPipeline(
        settings=settings,
        suggester_factory=suggester_factory,
        poster=poster or PyrusPoster(settings),
        category_names=category_names(),
    )


def drain_inbox(database_url: str, pipeline: BotPipeline) -> int:
    """Process every ready inbox job in this thread (demo, `kb worker --once`, tests)."""
    from assistant.bot.inbox_worker import InboxWorker

    worker = InboxWorker.from_settings(database_url, pipeline.handle_job, pipeline.settings)
    try:
        return worker.run_pending()
    finally:
        worker.stop()
