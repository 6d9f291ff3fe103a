"""The bot's durable inbox: webhook events stored first, processed later, exactly once.

The webhook only inserts a row and answers 200, so Pyrus's 60-second limit never
depends on the LLM. Duplicate deliveries (an `X-Pyrus-Retry` attempt, or the same
event sent twice) share a dedupe key and only bump `deliveries`. Workers, in the
app's background thread or in `kb worker` processes, claim one row at a time with
`SELECT … FOR UPDATE SKIP LOCKED`. A claim is a lease: it lasts the claim timeout and
carries a fencing token (`lease`, +1 per claim); a job whose lease ran out (its worker
crashed, was killed or hung) is taken again, so a restart loses nothing, and its old
holder can no longer post (`begin_post` checks the token). Transient failures (Pyrus or
the database unreachable) are retried with capped backoff until a horizon (a day by
default); other failures up to `max_attempts`. A failed job comes back with a
redelivery of its event (`enqueue`) or `requeue`. One log line per state change.
Guarantees and limits: docs/reliability.md.

All functions expect an autocommit connection: each statement is its own commit, and
nothing holds a transaction open while the LLM or Pyrus is being called.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from assistant.errors import KbError

logger = logging.getLogger(__name__)


class PermanentJobError(KbError):
    """A job that must not be retried (bad payload, a 4xx from Pyrus other than 429)."""


class TransientJobError(KbError):
    """Pyrus or a service it needs is unreachable: retried until the retry horizon.

    `min_delay_seconds` is the earliest retry (a POST whose outcome is unknown must not be
    checked for before Pyrus had time to apply it).
    """

    min_delay_seconds: float = 0.0


class LeaseLost(KbError):
    """The job was reclaimed by another worker: this holder must stop without posting."""


class RetryLater(KbError):
    """Not a failure: the job must wait (a rate limit); it goes back with a not-before time.

    The worker does not sleep on it, so one rate-limited ticket never stalls the others,
    and the attempt is not counted against `max_attempts`.
    """

    def __init__(self, message: str, *, delay_seconds: float) -> None:
        super().__init__(message)
        self.delay_seconds = max(0.0, delay_seconds)


@dataclass(frozen=True)
class EnqueueResult:
    inbox_id: int
    duplicate: bool
    deliveries: int
    revived: bool = False


@dataclass(frozen=True)
class Job:
    """One claimed inbox row."""

    id: int
    task_id: int
    event: str
    form_id: int | None
    comment_id: int | None
    payload: dict[str, Any]
    access_token: str | None
    attempts: int
    deliveries: int
    lease: int = 0
    retry_until: datetime | None = None
    deadline: float = math.inf  # time.monotonic() by which the job must be over

    def remaining(self) -> float:
        """Seconds left of the job's overall deadline (not per read)."""
        return self.deadline - time.monotonic()


def dedupe_key(task_id: int, event: str, comment_id: int | None) -> str:
    """Same task, same event, same last comment: the same delivery."""
    return f"{task_id}:{event}:{comment_id if comment_id is not None else '-'}"


def enqueue(
    conn: psycopg.Connection,
    *,
    task_id: int,
    event: str,
    form_id: int | None,
    comment_id: int | None,
    payload: dict[str, Any],
    access_token: str | None,
    retry_header: str | None,
) -> EnqueueResult:
    """Store an event, or count a redelivery of one already stored.

    A redelivery of a job that `failed` (it never posted: posting finishes a job) puts it
    back to `pending` with a fresh retry horizon, and one waiting out a backoff is made
    ready now: Pyrus delivering again means the ticket still waits for us.
    """
    row = conn.execute(
        """
        insert into assistant.inbox
            (dedupe_key, task_id, event, form_id, comment_id, payload, access_token, retry_header)
        values (%s, %s, %s, %s, %s, %s, %s, %s)
        on conflict (dedupe_key) do update
            set deliveries = assistant.inbox.deliveries + 1,
                last_delivery_at = now(),
                retry_header = excluded.retry_header,
                -- a fresh token helps a job that is still waiting; a finished job
                -- keeps none (tokens live only as long as a job needs them)
                access_token = case
                    when assistant.inbox.status in ('pending', 'processing', 'failed')
                        then coalesce(excluded.access_token, assistant.inbox.access_token)
                end,
                status = case when assistant.inbox.status = 'failed' then 'pending'
                    else assistant.inbox.status end,
                attempts = case when assistant.inbox.status = 'failed' then 0
                    else assistant.inbox.attempts end,
                retry_until = case when assistant.inbox.status = 'failed' then null
                    else assistant.inbox.retry_until end,
                -- a job waiting out a backoff is tried again now (the pipeline still
                -- honours a pending POST recheck)
                available_at = case when assistant.inbox.status in ('failed', 'pending')
                    then least(assistant.inbox.available_at, now())
                    else assistant.inbox.available_at end,
                finished_at = case when assistant.inbox.status = 'failed' then null
                    else assistant.inbox.finished_at end
        returning id, (xmax = 0) as inserted, deliveries,
            -- the row before this statement: was it failed?
            (select prev.status = 'failed' from assistant.inbox as prev
             where prev.id = assistant.inbox.id)
        """,
        (
            dedupe_key(task_id, event, comment_id),
            task_id,
            event,
            form_id,
            comment_id,
            Jsonb(payload),
            access_token,
            retry_header,
        ),
    ).fetchone()
    assert row is not None
    result = EnqueueResult(
        inbox_id=int(row[0]), duplicate=not row[1], deliveries=int(row[2]), revived=bool(row[3])
    )
    if result.revived:
        logger.info("inbox job %d failed -> pending: revived by a redelivery", result.inbox_id)
    return result


_CLAIM_SQL = """
update assistant.inbox as inbox
set status = 'processing', claimed_at = now(), attempts = inbox.attempts + 1,
    lease = inbox.lease + 1, lease_until = now() + make_interval(secs => %(timeout)s)
where inbox.id = (
    select id from assistant.inbox
    where (status = 'pending' and available_at <= now())
       -- a row claimed before leases existed (lease_until null) keeps the old timeout
       or (status = 'processing' and coalesce(
           lease_until, claimed_at + make_interval(secs => %(timeout)s)) < now())
    order by id
    for update skip locked
    limit 1
)
returning id, task_id, event, form_id, comment_id, payload, access_token, attempts, deliveries,
    lease, retry_until
"""


def claim_next(conn: psycopg.Connection, *, claim_timeout_seconds: float) -> Job | None:
    """Lease the oldest ready job (or one whose lease ran out), or None."""
    row = conn.execute(_CLAIM_SQL, {"timeout": claim_timeout_seconds}).fetchone()
    if row is None:
        return None
    return Job(
        id=row[0],
        task_id=row[1],
        event=row[2],
        form_id=row[3],
        comment_id=row[4],
        payload=row[5],
        access_token=row[6],
        attempts=row[7],
        deliveries=row[8],
        lease=row[9],
        retry_until=row[10],
    )


def finish(
    conn: psycopg.Connection, job_id: int, *, status: str, outcome: str, lease: int | None = None
) -> bool:
    """Close a job (`done` or `skipped`); the stored token is dropped. False: not ours.

    With `lease`, only the current lease holder may close it (None: an operator or a test).
    """
    cursor = conn.execute(
        "update assistant.inbox set status = %(status)s, outcome = %(outcome)s,"
        " finished_at = now(), access_token = null, lease_until = null"
        " where id = %(id)s and (%(lease)s::bigint is null or lease = %(lease)s)",
        {"status": status, "outcome": outcome, "id": job_id, "lease": lease},
    )
    return cursor.rowcount == 1


@dataclass(frozen=True)
class JobRetry:
    """How failures are retried (settings BOT_MAX_ATTEMPTS, BOT_RETRY_*)."""

    max_attempts: int = 5
    backoff_seconds: float = 30.0
    backoff_max_seconds: float = 900.0
    horizon_seconds: float = 86_400.0

    def delay(self, attempts: int, floor: float = 0.0) -> float:
        """Doubling backoff from the first attempt, capped; never below `floor`."""
        raw = self.backoff_seconds * (2 ** min(max(attempts - 1, 0), 30))
        return max(floor, min(self.backoff_max_seconds, raw))


def fail(
    conn: psycopg.Connection,
    job: Job,
    error: str,
    *,
    permanent: bool,
    policy: JobRetry,
    transient: bool = False,
    min_delay_seconds: float = 0.0,
) -> str:
    """Record a failure: back to `pending` after a backoff, or `failed` for good.

    Transient failures end only at the retry horizon, counted from the first of them;
    others after `max_attempts` tries; permanent ones at once.
    """
    now = datetime.now(UTC)
    until = job.retry_until
    if transient and until is None:
        until = datetime.fromtimestamp(now.timestamp() + policy.horizon_seconds, UTC)
    if permanent:
        final = True
    elif transient:
        final = until is not None and now >= until
    else:
        final = job.attempts >= policy.max_attempts
    status = "failed" if final else "pending"
    cursor = conn.execute(
        """
        update assistant.inbox
        set status = %(status)s, last_error = %(error)s, claimed_at = null, lease_until = null,
            available_at = now() + make_interval(secs => %(delay)s),
            retry_until = %(until)s,
            finished_at = case when %(final)s then now() end,
            access_token = case when %(final)s then null else access_token end
        where id = %(id)s and status = 'processing'
          and (%(lease)s::bigint is null or lease = %(lease)s)
        """,
        {
            "status": status,
            "error": error[:2000],
            "delay": policy.delay(job.attempts, min_delay_seconds),
            "until": until,
            "final": final,
            "id": job.id,
            "lease": job.lease,
        },
    )
    return status if cursor.rowcount == 1 else "reclaimed"


def reschedule(conn: psycopg.Connection, job: Job, delay_seconds: float, reason: str) -> bool:
    """Put a job back to `pending` after `delay_seconds`, not counting the attempt."""
    cursor = conn.execute(
        """
        update assistant.inbox
        set status = 'pending', last_error = %(reason)s, claimed_at = null, lease_until = null,
            attempts = greatest(attempts - 1, 0),
            available_at = now() + make_interval(secs => %(delay)s)
        where id = %(id)s and status = 'processing'
          and (%(lease)s::bigint is null or lease = %(lease)s)
        """,
        {"reason": reason[:2000], "delay": delay_seconds, "id": job.id, "lease": job.lease},
    )
    return cursor.rowcount == 1


def begin_post(conn: psycopg.Connection, job: Job, budget_seconds: float) -> None:
    """The fence before a POST: record it as sent, if this worker still holds the job.

    Succeeds only while the job carries this worker's lease token and the lease outlasts
    the POST's whole budget, so no other worker has claimed it, nor can claim it before
    the POST is over. Raises `LeaseLost` otherwise.
    """
    row = conn.execute(
        """
        update assistant.inbox set post_sent_at = now()
        where id = %(id)s and status = 'processing' and lease = %(lease)s
          and lease_until > now() + make_interval(secs => %(budget)s)
        returning id
        """,
        {"id": job.id, "lease": job.lease, "budget": budget_seconds},
    ).fetchone()
    if row is None:
        raise LeaseLost(f"inbox job {job.id}: lease {job.lease} is no longer ours; not posting")


def post_sent_age(conn: psycopg.Connection, job: Job) -> float | None:
    """Seconds since this job last sent its POST (None: never, or known not applied).

    Measured on the database's clock, which every replica shares. Read under the fence:
    `LeaseLost` if another worker holds the job now.
    """
    row = conn.execute(
        "select extract(epoch from now() - post_sent_at)::float8 from assistant.inbox"
        " where id = %s and lease = %s",
        (job.id, job.lease),
    ).fetchone()
    if row is None:
        raise LeaseLost(f"inbox job {job.id}: lease {job.lease} is no longer ours")
    return row[0]


def clear_post_sent(conn: psycopg.Connection, job: Job) -> None:
    """The POST is known not to be applied (refused, rate-limited, never connected)."""
    conn.execute(
        "update assistant.inbox set post_sent_at = null where id = %(id)s and lease = %(lease)s",
        {"id": job.id, "lease": job.lease},
    )


def release(conn: psycopg.Connection, job: Job) -> bool:
    """Give a claimed job back at once, attempt not counted (a worker told to stop).

    Only while still `processing` under this holder's lease: a job its worker finished
    meanwhile stays finished, and one reclaimed by another worker stays theirs.
    """
    row = conn.execute(
        """
        update assistant.inbox
        set status = 'pending', claimed_at = null, lease_until = null, available_at = now(),
            attempts = greatest(attempts - 1, 0), last_error = 'released: the worker stopped'
        where id = %s and status = 'processing' and lease = %s
        returning id
        """,
        (job.id, job.lease),
    ).fetchone()
    return row is not None


def unfinished_jobs(conn: psycopg.Connection, task_id: int) -> int:
    """Jobs of the task still pending or being processed."""
    row = conn.execute(
        "select count(*) from assistant.inbox where task_id = %s"
        " and status in ('pending', 'processing')",
        (task_id,),
    ).fetchone()
    return int(row[0]) if row else 0


def inbox_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Rows per status, for health checks and tests."""
    return {
        row[0]: int(row[1])
        for row in conn.execute("select status, count(*) from assistant.inbox group by status")
    }
