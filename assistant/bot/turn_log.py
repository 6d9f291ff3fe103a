"""The turn log (`assistant.suggestion_turns`, migration 0130): one row per triggering comment.

Kept apart from `suggestion_log.py` (the ticket's row: arm and first suggestion) so the
two tables each have one owner. The unique (task_id, trigger_comment_id) key is the
guarantee "at most one bot comment per customer message": `claim_turn` inserts the row
once, and only the inbox job that inserted it (its `inbox_id`) generates and posts; a
redelivery is the same job (the inbox deduplicates it), and another job carrying the same
comment finds the turn owned and stops. All functions expect an autocommit connection.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from assistant.bot.comment_format import CommentBody
from assistant.bot.models import Suggestion

_COLUMNS = (
    "id, task_id, trigger_comment_id, kind, inbox_id, generated_at, posted_at, comment_id,"
    " comment_text, comment_html, draft_reply, post_attempts, reply_note_id"
)


def _row(cursor: psycopg.Cursor[Any]) -> dict[str, Any] | None:
    row = cursor.fetchone()
    if row is None:
        return None
    names = [column.name for column in cursor.description or []]
    return dict(zip(names, row, strict=True))


def claim_turn(
    conn: psycopg.Connection,
    task_id: int,
    trigger_comment_id: int,
    kind: str,
    *,
    inbox_id: int | None,
    trigger_text: str,
) -> dict[str, Any]:
    """Insert the turn once (first job wins) and return its row, whoever owns it."""
    conn.execute(
        """
        insert into assistant.suggestion_turns
            (task_id, trigger_comment_id, kind, inbox_id, trigger_text)
        values (%s, %s, %s, %s, %s)
        on conflict (task_id, trigger_comment_id) do nothing
        """,
        (task_id, trigger_comment_id, kind, inbox_id, trigger_text),
    )
    row = _row(
        conn.execute(
            f"select {_COLUMNS} from assistant.suggestion_turns"  # noqa: S608 - constant
            " where task_id = %s and trigger_comment_id = %s",
            (task_id, trigger_comment_id),
        )
    )
    assert row is not None
    return row


def save_turn(
    conn: psycopg.Connection,
    turn_id: int,
    suggestion: Suggestion,
    body: CommentBody,
    *,
    repeated_steps: int,
) -> None:
    """Store what was generated for the turn (a rerun overwrites with the same facts)."""
    conn.execute(
        """
        update assistant.suggestion_turns set
            mode = %s, category_code = %s, category_confidence = %s, retrieval = %s,
            embedder_version = %s, no_good_match = %s, model = %s, prompt_version = %s,
            llm_error = %s, confidence = %s, cited_chunk_ids = %s, cited_document_ids = %s,
            repeated_steps = %s, retrieve_ms = %s, llm_ms = %s, prompt_tokens = %s,
            completion_tokens = %s, recommendation = %s, draft_reply = %s,
            comment_text = %s, comment_html = %s, reply_note_id = %s,
            generated_at = now(), updated_at = now()
        where id = %s
        """,
        (
            suggestion.mode,
            suggestion.category_code,
            suggestion.category_confidence,
            Jsonb(suggestion.retrieval),
            suggestion.embedder,
            suggestion.no_good_match,
            suggestion.model,
            suggestion.prompt_version,
            suggestion.llm_error,
            suggestion.confidence,
            Jsonb([ref.chunk_id for ref in suggestion.sources]),
            Jsonb([str(ref.document_id) for ref in suggestion.sources]),
            repeated_steps,
            suggestion.retrieve_ms,
            suggestion.llm_ms,
            suggestion.prompt_tokens,
            suggestion.completion_tokens,
            "\n".join(f"{i}. {step}" for i, step in enumerate(suggestion.steps, 1)),
            suggestion.draft_reply,
            body.text,
            body.formatted_text,
            body.reply_note_id,
            turn_id,
        ),
    )


def count_turn_post_attempt(conn: psycopg.Connection, turn_id: int) -> None:
    """Note a post about to be sent, so a crash after it is looked up, not posted twice."""
    conn.execute(
        "update assistant.suggestion_turns set post_attempts = post_attempts + 1,"
        " updated_at = now() where id = %s",
        (turn_id,),
    )


def record_turn_post_error(conn: psycopg.Connection, turn_id: int, error: str) -> None:
    conn.execute(
        "update assistant.suggestion_turns set post_error = %s, updated_at = now() where id = %s",
        (error[:2000], turn_id),
    )


def record_turn_posted(conn: psycopg.Connection, turn_id: int, comment_id: int | None) -> None:
    conn.execute(
        "update assistant.suggestion_turns set posted_at = coalesce(posted_at, now()),"
        " comment_id = %s, post_error = null, updated_at = now() where id = %s",
        (comment_id, turn_id),
    )
