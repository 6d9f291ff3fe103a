"""The suggestion log (`assistant.suggestions`): arm decisions, stored suggestions, replay.

Kept apart from `pipeline.py` so the SQL that the effect measurement depends on lives in
one place (docs/effect-measurement.md §3.1): the arm is written once per ticket at decision
time, a rerun overwrites a suggestion with the same facts, and a replay of history logs
suggestions for past tickets without ever posting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from assistant.bot.arms import arm_unit_value, assign_arm
from assistant.bot.comment_format import CommentBody, format_comment
from assistant.bot.inbox import unfinished_jobs
from assistant.bot.models import Suggestion
from assistant.bot.pyrus_models import PyrusTask, TicketText, safe_ticket, ticket_from_task
from assistant.bot.suggest import Suggester, ticket_query
from assistant.errors import KbError

logger = logging.getLogger(__name__)


# --- the suggestion log ---------------------------------------------------------------


def decide_arm(
    conn: psycopg.Connection,
    task_id: int,
    holdout_share: float,
    *,
    origin: str,
    inbox_id: int | None,
    decided_at: datetime | None = None,
) -> dict[str, Any]:
    """Write the arm once per ticket (first decision wins) and return the ticket's row."""
    conn.execute(
        """
        insert into assistant.suggestions
            (task_id, arm, arm_unit, holdout_share, decided_at, origin, inbox_id)
        values (%s, %s, %s, %s, coalesce(%s, now()), %s, %s)
        on conflict (task_id) do nothing
        """,
        (
            task_id,
            assign_arm(task_id, holdout_share),
            arm_unit_value(task_id),
            holdout_share,
            decided_at,
            origin,
            inbox_id,
        ),
    )
    cursor = conn.execute(
        "select task_id, arm, inbox_id, generated_at, posted_at, comment_id, comment_text,"
        " comment_html, draft_reply, post_attempts, posted_inbox_id"
        " from assistant.suggestions where task_id = %s",
        (task_id,),
    )
    names = [column.name for column in cursor.description or []]
    row = cursor.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


def save_suggestion(
    conn: psycopg.Connection,
    task_id: int,
    suggestion: Suggestion,
    body: CommentBody,
    *,
    inbox_id: int | None = None,
) -> None:
    """Store what was generated (idempotent: a rerun overwrites with the same facts)."""
    conn.execute(
        """
        update assistant.suggestions set
            inbox_id = coalesce(%s, inbox_id), mode = %s, category_code = %s,
            category_confidence = %s, category_method = %s, taxonomy_version = %s,
            retrieval = %s, embedder_version = %s, no_good_match = %s, model = %s,
            prompt_version = %s, llm_error = %s, confidence = %s, cited_chunk_ids = %s,
            retrieve_ms = %s, llm_ms = %s, prompt_tokens = %s, completion_tokens = %s,
            llm_output_mode = %s, llm_finish_reason = %s, fallback_reason = %s,
            recommendation = %s, draft_reply = %s, comment_text = %s, comment_html = %s,
            generated_at = now(), updated_at = now()
        where task_id = %s
        """,
        (
            inbox_id,
            suggestion.mode,
            suggestion.category_code,
            suggestion.category_confidence,
            suggestion.category_method,
            suggestion.taxonomy_version,
            Jsonb(suggestion.retrieval),
            suggestion.embedder,
            suggestion.no_good_match,
            suggestion.model,
            suggestion.prompt_version,
            suggestion.llm_error,
            suggestion.confidence,
            Jsonb([ref.chunk_id for ref in suggestion.sources]),
            suggestion.retrieve_ms,
            suggestion.llm_ms,
            suggestion.prompt_tokens,
            suggestion.completion_tokens,
            suggestion.llm_output_mode,
            suggestion.llm_finish_reason,
            suggestion.fallback_reason,
            "\n".join(f"{i}. {step}" for i, step in enumerate(suggestion.steps, 1)),
            suggestion.draft_reply,
            body.text,
            body.formatted_text,
            task_id,
        ),
    )


def deciding_inbox_id(conn: psycopg.Connection, task_id: int) -> int | None:
    """The inbox job whose event decided the ticket's arm (None: not decided yet)."""
    row = conn.execute(
        "select inbox_id from assistant.suggestions where task_id = %s", (task_id,)
    ).fetchone()
    return None if row is None else row[0]


def count_post_attempt(conn: psycopg.Connection, task_id: int) -> None:
    """Note a post about to be sent, so a crash after it is looked up, not posted twice."""
    conn.execute(
        "update assistant.suggestions set post_attempts = post_attempts + 1,"
        " updated_at = now() where task_id = %s",
        (task_id,),
    )


def record_post_error(conn: psycopg.Connection, task_id: int, error: str) -> None:
    conn.execute(
        "update assistant.suggestions set post_error = %s where task_id = %s",
        (error[:2000], task_id),
    )


def record_posted(
    conn: psycopg.Connection, task_id: int, comment_id: int, *, inbox_id: int, post_ms: int
) -> None:
    """The comment reached Pyrus; the first post time is kept on a repost."""
    conn.execute(
        "update assistant.suggestions set posted_at = coalesce(posted_at, now()),"
        " comment_id = %s, posted_inbox_id = %s, post_ms = %s, post_error = null,"
        " updated_at = now() where task_id = %s",
        (comment_id, inbox_id, post_ms, task_id),
    )


def record_category(conn: psycopg.Connection, task_id: int, suggestion: Suggestion) -> None:
    """Log the category decision through the categorizer's own log, when it exists."""
    if suggestion.category_decision is None:
        return
    try:
        from assistant.categorization.policy import record_decision  # type: ignore[import-not-found]
    except ImportError:
        return
    try:
        record_decision(conn, task_id, suggestion.category_decision)
    except (KbError, psycopg.Error) as exc:  # the suggestion matters more than this log
        logger.warning("category decision for task %d not recorded: %s", task_id, exc)


# --- replaying history (effect measurement) ------------------------------------------------


@dataclass(frozen=True)
class ReplaySummary:
    logged: int
    holdout: int


def _history_ticket(task_id: int, payload: dict[str, Any]) -> TicketText:
    task = PyrusTask.model_validate({**payload, "id": task_id})
    return safe_ticket(ticket_from_task(task))


# Tickets in `raw.pyrus_tasks` created in [since, until) on the given forms (None: any)
# that have no row in the log yet: what a replay still has to decide.
_UNLOGGED_TASKS = """
    from raw.pyrus_tasks as t
    where not t.is_deleted
      and (%(since)s::timestamptz is null
           or (t.payload->>'create_date')::timestamptz >= %(since)s)
      and (%(until)s::timestamptz is null
           or (t.payload->>'create_date')::timestamptz < %(until)s)
      and (%(forms)s::bigint[] is null or t.form_id = any(%(forms)s))
      and not exists (select 1 from assistant.suggestions s where s.task_id = t.task_id)
"""


def count_unlogged_tasks(
    conn: psycopg.Connection, since: datetime | None, form_ids: Iterable[int] | None
) -> int:
    """Tickets created since `since` that the bot has no decision for (replay's backlog)."""
    forms = list(form_ids) if form_ids else None
    row = conn.execute(
        "select count(*)" + _UNLOGGED_TASKS,
        {"since": since, "until": None, "forms": forms},
    ).fetchone()
    return int(row[0]) if row else 0


def ticket_queries(conn: psycopg.Connection, task_ids: list[int]) -> dict[int, str]:
    """task id → the text the bot searches for that ticket (as replay and the webhook do).

    The nightly `tune` stage fits retrieval on these, so it measures the bot's own queries
    and reads back the vectors stored for them instead of embedding again.
    """
    rows = conn.execute(
        "select task_id, payload from raw.pyrus_tasks where task_id = any(%s)", (task_ids,)
    ).fetchall()
    texts = {}
    for task_id, payload in rows:
        ticket = _history_ticket(task_id, payload)
        texts[task_id] = ticket_query(ticket.subject, ticket.description)
    return texts


def replay_history(
    conn: psycopg.Connection,
    suggester: Suggester,
    *,
    holdout_share: float,
    since: datetime | None = None,
    until: datetime | None = None,
    form_ids: Iterable[int] | None = None,
    limit: int | None = None,
) -> ReplaySummary:
    """Log suggestions for historical tickets in `raw.pyrus_tasks`, never posting.

    The arm comes from the same `assign_arm` as live traffic and `decided_at` is the
    ticket's creation time, so a replay agrees with what the live bot would have
    decided. Tickets already in the log are left alone: re-running is a no-op.
    """
    forms = list(form_ids) if form_ids is not None else None
    rows = conn.execute(
        "select t.task_id, t.payload, (t.payload->>'create_date')::timestamptz as created_at"
        + _UNLOGGED_TASKS
        + "order by t.task_id limit %(limit)s",
        {"since": since, "until": until, "forms": forms, "limit": limit},
    ).fetchall()
    logged = holdout = 0
    tickets = [
        (task_id, _history_ticket(task_id, payload), created_at)
        for task_id, payload, created_at in rows
    ]
    prime = getattr(suggester, "prime", None)
    if prime is not None:  # one batched embedding call for the whole page of tickets
        prime([(ticket.subject, ticket.description) for _, ticket, _ in tickets])
    for task_id, ticket, created_at in tickets:
        row = decide_arm(
            conn, task_id, holdout_share, origin="replay", inbox_id=None, decided_at=created_at
        )
        suggestion = suggester.suggest(
            ticket.subject,
            ticket.description,
            customer_name=ticket.customer_name,
            exclude_document_ids=frozenset({f"pyrus:{task_id}"}),
        )
        save_suggestion(conn, task_id, suggestion, format_comment(suggestion))
        logged += 1
        holdout += row["arm"] == "holdout"
    logger.info("replayed %d historical ticket(s) (%d holdout)", logged, holdout)
    return ReplaySummary(logged=logged, holdout=holdout)


def wait_for_task(
    conn: psycopg.Connection, task_id: int, *, timeout_seconds: float = 30.0
) -> dict[str, Any] | None:
    """Wait until no inbox job of the task is pending; return its suggestion row (or None)."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        if unfinished_jobs(conn, task_id) == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    cursor = conn.execute("select * from assistant.suggestions where task_id = %s", (task_id,))
    row = cursor.fetchone()
    names = [column.name for column in cursor.description or []]
    return dict(zip(names, row, strict=True)) if row else None
