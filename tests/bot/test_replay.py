"""Replaying history logs suggestions for past tickets as the live bot would, never posting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from assistant.bot.replay import count_unlogged_tasks, replay_history, ticket_queries
from assistant.bot.suggest import ticket_query
from assistant.db import connect
from tests.bot.test_pipeline import FORM_ID, _sample_task, suggestion_row
from tests.bot.test_suggest import make_suggester

pytestmark = pytest.mark.db


def test_replay_history_logs_without_posting(database_url: str) -> None:
    with connect(database_url, autocommit=True) as conn:
        task = _sample_task() | {"id": 201_700_001}
        conn.execute(
            "insert into raw.pyrus_tasks (task_id, form_id, payload, payload_hash, _batch_id)"
            " values (%s, %s, %s, 'h', gen_random_uuid()) on conflict do nothing",
            (task["id"], FORM_ID, psycopg.types.json.Jsonb(task)),
        )
        created = datetime(2026, 11, 20, 9, 12, 44, tzinfo=UTC)
        backlog = count_unlogged_tasks(conn, created, [FORM_ID])
        assert backlog >= 1
        assert count_unlogged_tasks(conn, created + timedelta(seconds=1), [FORM_ID]) == backlog - 1
        assert count_unlogged_tasks(conn, created, [FORM_ID + 1]) == 0
        suggester = make_suggester()
        primed: list[tuple[str, str]] = []
        suggester.prime = primed.extend  # type: ignore[method-assign]
        first = replay_history(conn, suggester, holdout_share=0.2)
        again = replay_history(conn, make_suggester(), holdout_share=0.2)
        assert count_unlogged_tasks(conn, None, None) == 0
        # tune searches each ticket with exactly the text replay (and the webhook) used
        (subject, description) = primed[0]
        texts = ticket_queries(conn, [201_700_001, 999])
        assert texts == {201_700_001: ticket_query(subject, description)}
    assert first.logged == 1
    assert again.logged == 0
    row = suggestion_row(database_url, 201_700_001)
    assert row["origin"] == "replay"
    assert row["posted_at"] is None
    assert row["decided_at"].isoformat().startswith("2026-11-20T09:12:44")
    assert row["draft_reply"]
