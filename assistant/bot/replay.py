"""Replaying history: suggestions for past tickets in `raw.pyrus_tasks`, never posted.

The effect measurement needs an arm and a suggestion for tickets the live bot never saw
(docs/effect-measurement.md). A replay decides them as the live bot would — the same
`decide_arm` and `save_suggestion` of `suggestion_log.py`, the ticket's creation time as
the decision time — and the nightly `tune` stage reads the bot's queries for the same
tickets (`ticket_queries`). Kept apart from the log so the log holds only the table's SQL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from assistant.bot.comment_format import format_comment
from assistant.bot.pyrus_models import PyrusTask, TicketText, safe_ticket, ticket_from_task
from assistant.bot.suggest import Suggester, ticket_query
from assistant.bot.suggestion_log import decide_arm, save_suggestion

logger = logging.getLogger(__name__)


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
