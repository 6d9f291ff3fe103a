"""What an operator (and the pipeline) does to inbox jobs by hand: list the troubled ones,
put failed ones back.

`kb inbox` and `kb inbox retry` (flows/cli.py) are thin commands over this module. A job
is never lost: a `failed` one stays in `assistant.inbox` with its last error until it is
re-queued here, revived by a redelivery of its event (inbox.enqueue) or by the ticket's
next event (pipeline.skip_reason). Guarantees and limits: docs/reliability.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import psycopg

logger = logging.getLogger(__name__)

_REQUEUE_SQL = """
update assistant.inbox
set status = 'pending', attempts = 0, retry_until = null, available_at = now(),
    finished_at = null, lease_until = null,
    access_token = coalesce(%(token)s, access_token),
    last_error = coalesce(last_error || ' | ', '') || %(why)s
where status = 'failed' and (%(ids)s::bigint[] is null or id = any(%(ids)s))
returning id
"""


def requeue(
    conn: psycopg.Connection,
    ids: list[int] | None,
    *,
    why: str,
    access_token: str | None = None,
) -> list[int]:
    """Put `failed` jobs (these ids, or all with None) back to `pending`; returns their ids.

    Jobs in another state are left alone: a done job must not post again, a pending or
    processing one is on its way already.
    """
    rows = conn.execute(
        _REQUEUE_SQL, {"ids": ids, "why": f"re-queued: {why}", "token": access_token}
    ).fetchall()
    requeued = [int(row[0]) for row in rows]
    for job_id in requeued:
        logger.info("inbox job %d failed -> pending: %s", job_id, why)
    return requeued


def revive_failed(conn: psycopg.Connection, job_id: int, *, access_token: str | None) -> bool:
    """The ticket's next event brings back its `failed` job (it never posted)."""
    return bool(
        requeue(conn, [job_id], why="the ticket's next event arrived", access_token=access_token)
    )


@dataclass(frozen=True)
class TroubledJob:
    """One row of `kb inbox`."""

    id: int
    task_id: int
    status: str  # failed | stuck | retrying | dead letter
    attempts: int
    since: datetime
    error: str


_TROUBLED_SQL = """
select id, task_id,
    case when status = 'processing' then 'stuck'
         when status = 'pending' then 'retrying' else status end,
    attempts, coalesce(finished_at, claimed_at, last_delivery_at), coalesce(last_error, '')
from assistant.inbox
where status = 'failed'
   or (status = 'processing' and coalesce(lease_until, claimed_at) < now())
   or (status = 'pending' and last_error is not null)
union all
select id, coalesce(task_id, 0), 'dead letter', deliveries, last_delivery_at,
    disposition || ' (HTTP ' || http_status || '): ' || reason
from assistant.dead_letters
where disposition = 'rejected'
order by 5 desc
limit %(limit)s
"""


def troubled_jobs(conn: psycopg.Connection, limit: int = 100) -> list[TroubledJob]:
    """Failed, stuck (lease ran out) and retrying jobs, and rejected dead letters."""
    return [
        TroubledJob(
            id=int(row[0]),
            task_id=int(row[1]),
            status=str(row[2]),
            attempts=int(row[3]),
            since=row[4],
            error=" ".join(str(row[5]).split())[:200],
        )
        for row in conn.execute(_TROUBLED_SQL, {"limit": limit})
    ]
