"""The inbox worker loop: claim a job, run the pipeline on it, record what happened.

Kept apart from `inbox.py` (the rows and their state changes) so the loop — threads,
wake-ups, the job deadline, an unreachable database — reads on its own. A worker runs
in `kb serve`'s background thread or in `kb worker` processes; any number of them may
share one database (the claim is a lease with a fencing token, inbox.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import psycopg

from assistant.bot.inbox import (
    Job,
    JobRetry,
    LeaseLost,
    PermanentJobError,
    RetryLater,
    TransientJobError,
    claim_next,
    fail,
    finish,
    reschedule,
)
from assistant.db import connect
from assistant.errors import KbError
from assistant.settings import AssistantSettings

logger = logging.getLogger(__name__)


def _is_outage(exc: BaseException) -> bool:
    """The database connection is gone (a failure cannot even be recorded)."""
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return True
    state = getattr(exc, "sqlstate", None) if isinstance(exc, psycopg.Error) else None
    return bool(state) and str(state)[:2] in {"08", "57"}


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
        job_budget_seconds: float = 120.0,
        policy: JobRetry | None = None,
    ) -> None:
        self.database_url = database_url
        self.handler = handler
        self.poll_seconds = poll_seconds
        self.claim_timeout_seconds = claim_timeout_seconds
        self.job_budget_seconds = min(job_budget_seconds, claim_timeout_seconds / 2)
        self.policy = policy or JobRetry()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection | None = None
        self.current: Job | None = None  # the job being handled (released on a stop signal)

    @classmethod
    def from_settings(
        cls, database_url: str, handler: JobHandler, settings: AssistantSettings
    ) -> InboxWorker:
        """The worker as `kb serve`, `kb worker` and the tests run it."""
        return cls(
            database_url,
            handler,
            poll_seconds=settings.bot_poll_seconds,
            claim_timeout_seconds=settings.bot_claim_timeout_seconds,
            job_budget_seconds=settings.bot_job_budget_seconds,
            policy=JobRetry(
                max_attempts=settings.bot_max_attempts,
                backoff_seconds=settings.bot_retry_backoff_seconds,
                backoff_max_seconds=settings.bot_retry_backoff_max_seconds,
                horizon_seconds=settings.bot_retry_horizon_seconds,
            ),
        )

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
        job = replace(job, deadline=time.monotonic() + self.job_budget_seconds)
        logger.info(
            "inbox job %d -> processing: task %d, event %s, attempt %d, lease %d",
            job.id,
            job.task_id,
            job.event,
            job.attempts,
            job.lease,
        )
        self.current = job
        try:
            status, outcome = self.handler(conn, job)
        except LeaseLost as exc:
            logger.warning("inbox job %d: %s", job.id, exc)
            return True
        except RetryLater as exc:
            ours = reschedule(conn, job, exc.delay_seconds, f"{type(exc).__name__}: {exc}")
            why = f"waits {exc.delay_seconds:.1f}s: {exc}"
            self._log_change(job, "pending" if ours else "reclaimed", why)
            return True
        except Exception as exc:  # every job error is recorded, never lost
            if _is_outage(exc):
                raise  # the database is gone: nothing can be written; the lease runs out
            message = f"{type(exc).__name__}: {exc}"
            new_status = fail(
                conn,
                job,
                message,
                permanent=isinstance(exc, PermanentJobError),
                transient=isinstance(exc, TransientJobError),
                min_delay_seconds=getattr(exc, "min_delay_seconds", 0.0),
                policy=self.policy,
            )
            self._log_change(job, new_status, message, level=logging.WARNING)
            return True
        finally:
            self.current = None
        ours = finish(conn, job.id, status=status, outcome=outcome, lease=job.lease)
        self._log_change(job, status if ours else "reclaimed", outcome)
        return True

    @staticmethod
    def _log_change(job: Job, status: str, why: str, level: int = logging.INFO) -> None:
        """The one log line of a state change."""
        logger.log(level, "inbox job %d processing -> %s: %s", job.id, status, why)

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
                one_line = " ".join(str(exc).split())[:300]
                logger.warning("inbox worker: %s; retrying in %.1fs", one_line, self.poll_seconds)
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
