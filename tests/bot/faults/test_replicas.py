"""Scale-out (issue #25): two `kb serve` replicas and two `kb worker` processes, one database.

Real processes, as an operator runs them, against the Pyrus emulator on 127.0.0.1. Every
event is delivered to both replicas (a redelivery that lands on the other one); a third of
the tickets meet a slow Pyrus that applies the POST after the client gave up, some others
a Pyrus that answers late; one worker is SIGKILLed mid-run and replaced, one replica is
SIGKILLed mid-burst (its senders go to the other one). Each treatment ticket must end with
exactly one comment, each holdout ticket with none.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.db import connect
from sample_data.emulators.sandbox import Sandbox
from tests.bot.faults.burst import check_exactly_once, wait_drained
from tests.bot.test_pipeline import FORM_ID, new_task
from tests.flows.test_serve_cli import free_port, wait_healthy

pytestmark = [pytest.mark.db, pytest.mark.slow]

TICKETS = 24


def _env(sandbox: Sandbox, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "PYRUS_BOT_SECRET": sandbox.bot_secret,
        "PYRUS_API_URL": sandbox.pyrus_api_url,
        "PYRUS_AUTH_URL": sandbox.pyrus_auth_url,
        "PYRUS_LOGIN": sandbox.pyrus_login,
        "PYRUS_SECURITY_KEY": sandbox.pyrus_key,
        "PYRUS_FORM_IDS": str(FORM_ID),
        "ASSISTANT_HOLDOUT": "0.3",
        "BOT_WORKER_IN_APP": "false",
        "BOT_POLL_SECONDS": "0.1",
        "BOT_CLAIM_TIMEOUT_SECONDS": "8",
        "BOT_JOB_DEADLINE_SECONDS": "4",
        "BOT_POST_RECHECK_SECONDS": "3",
        "BOT_RETRY_BACKOFF_SECONDS": "0.2",
        "BOT_RETRY_BACKOFF_MAX_SECONDS": "1",
        "PYRUS_TIMEOUT_SECONDS": "1",
    }


class Fleet:
    """The processes of one test; each writes its output to a log file."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        out = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", *args],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        self.procs[name] = proc
        return proc

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def fleet(sandbox: Sandbox, database_url: str, tmp_path: Path) -> Iterator[tuple[Fleet, list[str]]]:
    fleet = Fleet(_env(sandbox, database_url), tmp_path)
    urls = []
    for name in ("serve-a", "serve-b"):
        port = free_port()
        fleet.start(name, "serve", "--port", str(port))
        urls.append((f"http://127.0.0.1:{port}", fleet.procs[name]))
    fleet.start("worker-1", "worker")
    fleet.start("worker-2", "worker")
    try:
        for url, proc in urls:
            wait_healthy(url, proc)
        yield fleet, [f"{url}/pyrus/webhook" for url, _ in urls]
    finally:
        fleet.stop_all()


def _deliver(sandbox: Sandbox, urls: list[str], task_id: int, first: int) -> None:
    """Deliver to one replica, then redeliver to the other; a dead replica is skipped."""
    delivered = 0
    for url in (urls[first % 2], urls[(first + 1) % 2]):
        try:
            if sandbox.send_webhook(url, task_id, max_tries=1, timeout=10).ok:
                delivered += 1
        except httpx.TransportError:
            continue
    assert delivered >= 1, f"task {task_id} reached no replica"


def test_two_replicas_two_workers_one_comment_per_treatment_ticket(
    sandbox: Sandbox, database_url: str, fleet: tuple[Fleet, list[str]]
) -> None:
    procs, urls = fleet
    task_ids = [new_task(sandbox) for _ in range(TICKETS)]
    for task_id in task_ids[: TICKETS // 3]:  # Pyrus applies the POST after the client gave up
        sandbox.pyrus.faults.apply_late_next(
            apply_after=1.5, answer_after=2.0, path_prefix=f"/v4/tasks/{task_id}/comments"
        )
    for task_id in task_ids[TICKETS // 3 : TICKETS // 2]:  # answers past the client timeout
        sandbox.pyrus.faults.delay_next(1, seconds=1.5, path_prefix=f"/v4/tasks/{task_id}/")
    for index, task_id in enumerate(task_ids):
        if index == TICKETS // 3:
            procs.kill("worker-1")  # mid-run, maybe mid-POST: its jobs wait out their lease
            procs.start("worker-3", "worker")
        if index == 2 * TICKETS // 3:
            procs.kill("serve-a")  # senders go on with the other replica
        _deliver(sandbox, urls, task_id, index)
    wait_drained(database_url, task_ids, timeout=120)
    time.sleep(2.0)  # a late-applied POST still in flight lands
    check_exactly_once(sandbox, database_url, task_ids)
    with connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "select count(*) filter (where last_error like '%%outcome unknown%%'),"
            " max(deliveries) from assistant.inbox where task_id = any(%s)",
            (task_ids,),
        ).fetchone()
    assert row is not None
    assert row[0] > 0  # the slowdown was real: POSTs were sent and their answers lost
    assert row[1] == 2  # the redeliveries reached the other replica
