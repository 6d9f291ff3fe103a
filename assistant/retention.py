"""Retention: personal data the product no longer needs is removed on a schedule.

What stays raw, and for how long (docs/privacy.md):

* `assistant.inbox` — a webhook event's payload (the ticket as Pyrus sent it) and its
  access token are needed until the job finishes. `inbox_retention_days` after it
  finished (any status but pending/processing) the payload becomes `{"purged": true}`
  and the token and last error are cleared; the row itself stays (ids, status,
  outcome, counts), so deduplication and the suggestion log keep working.
* `assistant.dead_letters` — raw bodies kept for diagnosis are deleted
  `inbox_retention_days` after their last delivery.
* `raw.*_versions` — superseded payloads of tickets, pages and SQL rows (a closed
  version, `valid_to` set) are deleted `raw_history_retention_days` after they were
  superseded. The current payloads stay: they are the knowledge base's source, masked
  on the way to `marts.kb_documents`.

Every purge is one idempotent statement per table: re-running it removes nothing more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

RAW_VERSION_TABLES = (
    "raw.pyrus_task_versions",
    "raw.confluence_page_versions",
    "raw.sql_row_versions",
)
PURGED_PAYLOAD = '{"purged": true}'


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each kind of raw personal data is kept, in days."""

    inbox_days: int = 30
    raw_history_days: int = 90


def purge(
    conn: psycopg.Connection, policy: RetentionPolicy, now: datetime | None = None
) -> dict[str, int]:
    """Apply the policy; returns how many rows each step touched (committed by the caller)."""
    now = now or datetime.now(UTC)
    inbox_cutoff = now - timedelta(days=policy.inbox_days)
    raw_cutoff = now - timedelta(days=policy.raw_history_days)
    summary: dict[str, int] = {}
    summary["inbox_payloads_purged"] = conn.execute(
        "update assistant.inbox set payload = %s::jsonb, access_token = null, last_error = null"
        " where status not in ('pending', 'processing') and finished_at < %s"
        " and payload <> %s::jsonb",
        (PURGED_PAYLOAD, inbox_cutoff, PURGED_PAYLOAD),
    ).rowcount
    summary["dead_letters_deleted"] = conn.execute(
        "delete from assistant.dead_letters where last_delivery_at < %s", (inbox_cutoff,)
    ).rowcount
    raw_deleted = 0
    for table in RAW_VERSION_TABLES:
        exists = conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()
        if exists and exists[0]:
            raw_deleted += conn.execute(
                sql.SQL("delete from {} where valid_to is not null and valid_to < %s").format(
                    sql.Identifier(*table.split("."))
                ),
                (raw_cutoff,),
            ).rowcount
    summary["raw_versions_deleted"] = raw_deleted
    logger.info("retention purge: %s", summary)
    return summary
