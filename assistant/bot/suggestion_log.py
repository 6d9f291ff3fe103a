"""The suggestion log (`assistant.suggestions`): arm decisions, stored suggestions, posts.

Kept apart from `pipeline.py` so the SQL that the effect measurement depends on lives in
one place (docs/effect-measurement.md §3.1): the arm is written once per ticket at decision
time and a rerun overwrites a suggestion with the same facts. The replay of history
(`replay.py`) writes through these same functions.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from assistant.bot.arms import arm_unit_value, assign_arm
from assistant.bot.comment_format import CommentBody
from assistant.bot.inbox import unfinished_jobs
from assistant.bot.models import Suggestion
from assistant.categorization.policy import record_decision
from assistant.errors import KbError

logger = logging.getLogger(__name__)


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
        record_decision(conn, task_id, suggestion.category_decision)
    except (KbError, psycopg.Error) as exc:  # the suggestion matters more than this log
        logger.warning("category decision for task %d not recorded: %s", task_id, exc)


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
