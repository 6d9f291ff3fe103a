"""A burst of new tickets sent by concurrent "Pyrus" senders, shared by the fault tests
and `benchmarks/bot.py`.

Each sender signs and posts the webhook like Pyrus (retrying a non-2xx answer, with the
`X-Pyrus-Retry` header); the retry delays are compressed from Pyrus's +61 s/+122 s so a
database outage of a few seconds is spanned in a test.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from assistant.db import connect
from tests.bot.test_pipeline import bot_comments


@dataclass
class Burst:
    """What the senders saw: per task the delivery, per attempt the latency."""

    deliveries: dict[int, Any] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    statuses: list[int | str] = field(default_factory=list)
    send_seconds: float = 0.0


def send_burst(
    sandbox: Any,
    url: str,
    task_ids: list[int],
    *,
    senders: int = 20,
    retry_delays: tuple[float, ...] = (0.0, 0.0),
    on_sent: Callable[[int], None] | None = None,
) -> Burst:
    """Send one webhook per task from `senders` threads; `on_sent(n)` after each one."""
    burst = Burst()
    clients = [httpx.Client(timeout=30) for _ in range(senders)]
    counter = iter(range(len(task_ids)))

    def send(index_and_task: tuple[int, int]) -> None:
        index, task_id = index_and_task
        started = time.perf_counter()
        delivery = sandbox.send_webhook(
            url, task_id, retry_delays=retry_delays, client=clients[index % senders]
        )
        elapsed = (time.perf_counter() - started) * 1000
        burst.deliveries[task_id] = delivery
        burst.latencies_ms.append(elapsed / max(1, len(delivery.attempts)))
        burst.statuses.extend(a.status or "error" for a in delivery.attempts)
        if on_sent is not None:
            on_sent(next(counter))

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=senders) as pool:
            list(pool.map(send, enumerate(task_ids)))
    finally:
        for client in clients:
            client.close()
    burst.send_seconds = time.perf_counter() - started
    return burst


def wait_drained(database_url: str, task_ids: list[int], timeout: float = 90.0) -> float:
    """Seconds until every task's inbox job left pending/processing."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            with connect(database_url, autocommit=True, register_vector=False) as conn:
                row = conn.execute(
                    "select count(*) filter (where status not in ('pending', 'processing')),"
                    " count(*) from assistant.inbox where task_id = any(%s)",
                    (task_ids,),
                ).fetchone()
            if row is not None and row[0] == row[1] == len(task_ids):
                return time.perf_counter() - started
        except Exception:  # the database may be restarting
            pass
        time.sleep(0.1)
    raise AssertionError(f"inbox not drained within {timeout:.0f} s")


def arms(database_url: str, task_ids: list[int]) -> dict[int, str]:
    """The arm decided for each task."""
    with connect(database_url, autocommit=True, register_vector=False) as conn:
        rows = conn.execute(
            "select task_id, arm from assistant.suggestions where task_id = any(%s)", (task_ids,)
        ).fetchall()
    return {int(task_id): str(arm) for task_id, arm in rows}


def check_exactly_once(sandbox: Any, database_url: str, task_ids: list[int]) -> None:
    """Every ticket decided (nothing lost); one comment per treatment ticket, none for holdout."""
    decided = arms(database_url, task_ids)
    assert sorted(decided) == sorted(task_ids)  # every ticket was decided: nothing lost
    counts = {task_id: len(bot_comments(sandbox, task_id)) for task_id in task_ids}
    wrong = {t: (decided[t], n) for t, n in counts.items() if n != (decided[t] == "treatment")}
    assert wrong == {}, f"comments per ticket off (arm, comments): {wrong}"
    holdout = sum(1 for arm in decided.values() if arm == "holdout")
    assert 0 < holdout < len(task_ids)  # both arms really occurred


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
