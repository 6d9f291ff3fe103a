"""`kb worker` stops on the first SIGINT/SIGTERM, in a real process, within seconds.

An idle worker exits at once with a line saying why; a worker stuck in a job (a slow
LLM call, here a handler that sleeps) gives the job back to the inbox after the grace
period, so another worker takes it without waiting for the claim timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from assistant.bot.inbox import enqueue
from assistant.db import connect

pytestmark = pytest.mark.db

KB = str(Path(sys.executable).with_name("kb"))
STOP_WITHIN_SECONDS = 10.0
# A worker whose handler never returns in time: InboxWorker + run_until_signalled, as
# `kb worker` wires them, with a one-second grace period.
STUCK_WORKER = """
import sys, time
from assistant.bot.inbox_worker import InboxWorker
from assistant.bot.worker_process import run_until_signalled

def slow(conn, job):
    print(f"handling {job.id}", flush=True)
    time.sleep(120)
    return "done", "too late"

inbox = InboxWorker(sys.argv[1], slow, poll_seconds=0.2)
print(run_until_signalled(inbox, grace_seconds=1.0), flush=True)
"""


def _wait_for_line(process: subprocess.Popen[str], text: str, timeout: float = 120) -> None:
    """Read the child's output until a line contains `text` (fails after `timeout`)."""
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if text in line:
            return
        if not line and process.poll() is not None:
            break
    pytest.fail(f"no line with {text!r}; exit code {process.poll()}")


def _stop(process: subprocess.Popen[str], signum: int) -> tuple[int, float, str]:
    started = time.monotonic()
    process.send_signal(signum)
    try:
        out, _ = process.communicate(timeout=STOP_WITHIN_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"still running {STOP_WITHIN_SECONDS} s after {signal.Signals(signum).name}")
    return process.returncode, time.monotonic() - started, out


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_idle_kb_worker_stops_on_the_first_signal(database_url: str, signum: int) -> None:
    process = subprocess.Popen(
        [KB, "worker"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "DATABASE_URL": database_url},
    )
    _wait_for_line(process, "inbox worker running")
    code, seconds, out = _stop(process, signum)
    assert code == 0, out
    assert f"stopped on {signal.Signals(signum).name}" in out
    assert "Traceback" not in out
    assert seconds < STOP_WITHIN_SECONDS


def test_a_job_still_running_is_released_for_another_worker(database_url: str) -> None:
    with connect(database_url, autocommit=True) as conn:
        conn.execute("truncate assistant.inbox cascade")
        job_id = enqueue(
            conn,
            task_id=7001,
            event="comment",
            form_id=321456,
            comment_id=1,
            payload={"task": {"id": 7001}},
            access_token=None,
            retry_header=None,
        ).inbox_id
    process = subprocess.Popen(
        [sys.executable, "-c", STUCK_WORKER, database_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _wait_for_line(process, f"handling {job_id}")
    code, seconds, out = _stop(process, signal.SIGTERM)
    assert code == 0, out
    assert f"inbox job {job_id} released for another worker" in out
    assert seconds < STOP_WITHIN_SECONDS
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select status, attempts, claimed_at, last_error from assistant.inbox where id = %s",
            (job_id,),
        ).fetchone()
    assert row == ("pending", 0, None, "released: the worker stopped")
