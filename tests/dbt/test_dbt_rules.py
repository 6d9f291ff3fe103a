"""A fresh database without the Python-owned tables, and a broken rule failing the run.

Both builds select only the ticket marts (and their tests), to stay fast.
"""

from __future__ import annotations

import copy
from pathlib import Path

import psycopg
import pytest

from flows import dbt_runner
from tests.dbt import fixtures as fx

pytestmark = [pytest.mark.db, pytest.mark.slow]

SELECTION = ("+fct_tickets", "+fct_ticket_events", "+kb_documents")


@pytest.fixture(scope="module")
def dbt_work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dbt-rules")


def _build(database_url: str, work_dir: Path) -> dbt_runner.DbtRunSummary:
    return dbt_runner.build(
        database_url, work_dir=work_dir, select=SELECTION, indirect_selection="cautious"
    )


def test_builds_before_categorize_and_the_bot_created_their_tables(
    database_url: str, dbt_work_dir: Path
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("drop table if exists kb.ticket_categories, assistant.suggestions cascade")

    summary = _build(database_url, dbt_work_dir)

    assert summary.tests_failed == summary.tests_errored == 0
    assert {"stg_kb__ticket_categories", "stg_assistant__suggestions", "fct_tickets"} <= set(
        summary.models_built
    )
    assert not (dbt_runner.PROJECT_DIR / "target").exists()
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select count(*) from marts.kb_documents").fetchone() == (0,)
        assert conn.execute("select count(*) from marts.fct_tickets").fetchone() == (0,)


def test_closed_ticket_without_close_event_fails_the_build(
    database_url: str, dbt_work_dir: Path
) -> None:
    """close_date set but no `finished` comment: the named test must stop the run."""
    broken = copy.deepcopy(fx.messenger_ticket())
    broken["comments"] = [c for c in broken["comments"] if c.get("action") != "finished"]
    with psycopg.connect(database_url, autocommit=True) as conn:
        fx.insert_task(conn, broken)

    with pytest.raises(dbt_runner.DbtTestFailure) as caught:
        _build(database_url, dbt_work_dir)

    assert "assert_tickets__closed_has_close_event" in str(caught.value)
    assert caught.value.failing_tests == ["assert_tickets__closed_has_close_event"]
