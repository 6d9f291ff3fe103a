"""A second `kb demo` on the same database shows a fresh comment.

The emulator starts from the same sample each run, so its next ticket id repeats; the
bot has that id in its inbox from the first run and (rightly) does not answer again.
The demo passes over ids the bot has seen. Runs the demo's own ticket picker against
the real emulator and a migrated database, twice, as two demo runs would.
"""

from __future__ import annotations

import psycopg
import pytest

from assistant.bot.arms import assign_arm
from assistant.bot.inbox import enqueue
from assistant.db import connect
from flows.demo import _pick_ticket
from sample_data.emulators.sandbox import start_sandbox

pytestmark = pytest.mark.db

HOLDOUT = 0.2


def _handled(url: str, task_id: int) -> None:
    """What the first run leaves: the ticket's webhook event in the bot's inbox."""
    with connect(url, autocommit=True) as conn:
        enqueue(
            conn,
            task_id=task_id,
            event="comment",
            form_id=None,
            comment_id=1,
            payload={"task": {"id": task_id}},
            access_token=None,
            retry_header=None,
        )


def test_each_run_picks_a_ticket_the_bot_has_not_seen(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("truncate assistant.inbox cascade")
    with start_sandbox() as first_run:
        first = int(_pick_ticket(first_run, HOLDOUT, database_url)["id"])
    _handled(database_url, first)
    with start_sandbox() as second_run:  # the emulator starts from the same sample
        assert int(second_run.create_ticket({"subject": "probe"})["id"]) <= first
    with start_sandbox() as second_run:
        second = int(_pick_ticket(second_run, HOLDOUT, database_url)["id"])
    assert second != first
    assert assign_arm(second, HOLDOUT) == "treatment"  # holdout tickets get no comment
