"""The bot's durable inbox: webhook events stored first, processed later, exactly once.

The webhook only inserts a row and answers 200, so Pyrus's 60-second limit never
depends on the LLM. Duplicate deliveries (an `X-Pyrus-Retry` attempt, or the same
event sent twice) share a dedupe key and only bump `deliveries`. Workers, in the
app's background thread or in `kb worker` processes, claim one row at a time with
`SELECT … FOR UPDATE SKIP LOCKED`; a claim older than the claim timeout (a worker
that crashed or was killed) is taken again, so a restart loses nothing. Failures are
retried with backoff up to `max_attempts`, keeping `attempts` and `last_error`.

All functions expect an autocommit connection: each statement is its own commit, and
nothing holds a transaction open while the LLM or Pyrus is being called.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from assistant.db import connect
from assistant.errors import KbError

logger = logging.getLogger(__name__)


class PermanentJobError(KbError):
    """A job that must not be retried (bad payload, a 4xx from Pyrus other than 429)."""


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
    """Store an event, or count a redelivery of one already stored."""
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
                    when assistant.inbox.status in ('pending', 'processing')
                        then coalesce(excluded.access_token, assistant.inbox.access_token)
                end
        returning id, (xmax = 0) as inserted, deliveries
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
    return EnqueueResult(inbox_id=int(row[0]), duplicate=not row[1], deliveries=int(row[2]))


_CLAIM_SQL = """
update assistant.inbox as inbox
set status = 'processing', claimed_at = now(), attempts = inbox.attempts + 1
where inbox.id = (
    select id from assistant.inbox
    where (status = 'pending' and available_at <= now())
       or (status = 'processing' and claimed_at < now() - make_interval(secs => %s))
    order by id
    for update skip locked
    limit 1
)
returning id, task_id, event, form_id, comment_id, payload, access_token, attempts, deliveries
"""


def claim_next(conn: psycopg.Connection, *, claim_timeout_seconds: float) -> Job | None:
    """Claim the oldest ready job (or one whose worker died), or None."""
    row = conn.execute(_CLAIM_SQL, (claim_timeout_seconds,)).fetchone()
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
    )


def finish(conn: psycopg.Connection, job_id: int, *, status: str, outcome: str) -> None:
    """Close a job (`done` or `skipped`); the stored token is dropped."""
    conn.execute(
        "update assistant.inbox set status = %s, outcome = %s, finished_at = now(), "
        "access_token = null where id = %s",
        (status, outcome, job_id),
    )


def fail(
    conn: psycopg.Connection,
    job: Job,
    error: str,
    *,
    permanent: bool,
    max_attempts: int,
    backoff_seconds: float,
) -> str:
    """Record a failure: back to `pending` after a backoff, or `failed` for good."""
    final = permanent or job.attempts >= max_attempts
    delay = backoff_seconds * (2 ** max(job.attempts - 1, 0))
    conn.execute(
        """
        update assistant.inbox
        set status = %s, last_error = %s, claimed_at = null,
            available_at = now() + make_interval(secs => %s),
            finished_at = case when %s then now() end,
            access_token = case when %s then null else access_token end
        where id = %s
        """,
        ("failed" if final else "pending", error[:2000], delay, final, final, job.id),
    )
    return "failed" if final else "pending"


def reschedule(conn: psycopg.Connection, job: Job, delay_seconds: float, reason: str) -> None:
    """Put a job back to `pending` after `delay_seconds`, not counting the attempt."""
    conn.execute(
        """
        update assistant.inbox
        set status = 'pending', last_error = %s, claimed_at = null,
            attempts = greatest(attempts - 1, 0),
            available_at = now() + make_interval(secs => %s)
        where id = %s
        """,
        (reason[:2000], delay_seconds, job.id),
    )


def release(conn: psycopg.Connection, job_id: int) -> bool:
    """Give a claimed job back at once, attempt not counted (a worker told to stop).

    Only while still `processing`: a job its worker finished meanwhile stays finished.
    """
    row = conn.execute(
        """
        update assistant.inbox
        set status = 'pending', claimed_at = null, available_at = now(),
            attempts = greatest(attempts - 1, 0), last_error = 'released: the worker stopped'
        where id = %s and status = 'processing'
        returning id
        """,
        (job_id,),
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


JobHandler = Callable[[psycopg.Connection, Job], tuple[str, str]]
"""Processes one job and returns (status, outcome), status being `done` or `skipped`."""


class InboxWorker:
    """Claims and processes inbox jobs until stopped; one instance per thread."""

    def __init__(
        self,
        database_url: str,
        handler: JobHandler,
        *,
        poll_seconds: float = 1.0,
        claim_timeout_seconds: float = 300.0,
        max_attempts: int = 5,
        backoff_seconds: float = 30.0,
    ) -> None:
        self.database_url = database_url
        self.handler = handler
        self.poll_seconds = poll_seconds
        self.claim_timeout_seconds = claim_timeout_seconds
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection | None = None
        self.current: Job | None = None  # the job being handled (for release on stop)

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.database_url, autocommit=True)
        return self._conn

    def run_once(self) -> bool:
        """Process one job if one is ready; True when a job was taken."""
        conn = self._connection()
        job = claim_next(conn, claim_timeout_seconds=self.claim_timeout_seconds)
        if job is None:
            return False
        logger.info(
            "inbox job %d: task %d, event %s, attempt %d",
            job.id,
            job.task_id,
            job.event,
            job.attempts,
        )
        self.current = job
        try:
            status, outcome = self.handler(conn, job)
        except RetryLater as exc:
            reschedule(conn, job, exc.delay_seconds, f"{type(exc).__name__}: {exc}")
            logger.info("inbox job %d waits %.1fs: %s", job.id, exc.delay_seconds, exc)
            return True
        except Exception as exc:  # every job error is recorded, never lost
            permanent = isinstance(exc, PermanentJobError)
            message = f"{type(exc).__name__}: {exc}"
            new_status = fail(
                conn,
                job,
                message,
                permanent=permanent,
                max_attempts=self.max_attempts,
                backoff_seconds=self.backoff_seconds,
            )
            logger.warning("inbox job %d failed (%s, now %s)", job.id, message, new_status)
            return True
        finally:
            self.current = None
        finish(conn, job.id, status=status, outcome=outcome)
        logger.info("inbox job %d %s: %s", job.id, status, outcome)
        return True

    def run_pending(self, max_jobs: int | None = None) -> int:
        """Process ready jobs until none is left (or `max_jobs`); returns how many."""
        done = 0
        while (max_jobs is None or done < max_jobs) and not self._stop.is_set() and self.run_once():
            done += 1
        return done

    def run_forever(self) -> None:
        """Loop until `stop()`: drain, then sleep until woken or the poll interval passes."""
        while not self._stop.is_set():
            try:
                self.run_pending()
            except (KbError, psycopg.Error) as exc:  # DB down: keep the loop alive
                logger.warning("inbox worker: %s; retrying in %.1fs", exc, self.poll_seconds)
                self._close()
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
        self._close()

    def wake(self) -> None:
        """Tell a sleeping loop that a job arrived."""
        self._wake.set()

    def start(self) -> None:
        """Run the loop in a daemon thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, name="kb-inbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> bool:
        """Ask the loop to finish its current job and exit; False if it is still busy."""
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=timeout)
            return not thread.is_alive()
        return True

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
