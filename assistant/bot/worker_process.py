"""`kb worker` as a process: the inbox loop until the first SIGINT or SIGTERM.

A KeyboardInterrupt raised inside the loop lands wherever the main thread is: in a
psycopg wait it becomes a cancelled query (a `psycopg.Error` the loop survives), so
Ctrl-C needed a second press. Here the loop runs in its thread (InboxWorker.start)
and the main thread only waits for a signal; the handlers just set an event. On the
first signal the loop is asked to stop after its current job; a job still running
after `grace_seconds` (a slow LLM call) is released back to `pending` for another
worker (inbox.release) and the process exits. A second signal during the grace
period gets the default behaviour (exit at once); the claim timeout then frees the
job, as after a crash.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from assistant.bot.inbox import release
from assistant.bot.inbox_worker import InboxWorker
from assistant.db import connect

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
GRACE_SECONDS = 5.0


def run_until_signalled(
    inbox: InboxWorker,
    *,
    grace_seconds: float = GRACE_SECONDS,
    on_ready: Callable[[], None] | None = None,
) -> str:
    """Run the inbox loop until SIGINT/SIGTERM; returns how it stopped, in one line.

    `on_ready` runs once the handlers are in place (say "running" only then: a signal
    before that would still raise KeyboardInterrupt).
    """
    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()
        for number in STOP_SIGNALS:  # a second signal: the default, exit at once
            signal.signal(number, signal.SIG_DFL)

    previous = {number: signal.signal(number, on_signal) for number in STOP_SIGNALS}
    try:
        inbox.start()
        if on_ready is not None:
            on_ready()
        while not stop.wait(0.5):
            pass
        busy = inbox.current
        if inbox.stop(timeout=grace_seconds):
            return f"stopped on {received[0]}"
        job = busy or inbox.current
        if job is None:
            return f"stopped on {received[0]}; the loop did not end in {grace_seconds:.0f} s"
        with connect(inbox.database_url, autocommit=True) as conn:
            released = release(conn, job)
        logger.info("inbox job %d released on %s", job.id, received[0])
        return f"stopped on {received[0]}; inbox job {job.id} " + (
            "released for another worker" if released else "finished meanwhile"
        )
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
