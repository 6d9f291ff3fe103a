"""fct_retrieval_quality_daily and the kb_gaps misses, on hand-computable rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from flows import dbt_runner

pytestmark = [pytest.mark.db, pytest.mark.slow]

MODELS = [
    "stg_assistant__suggestions",
    "stg_assistant__suggestion_hits",
    "stg_kb__answer_labels",
    "fct_retrieval_quality_daily",
]


def _hits(*documents: str) -> Jsonb:
    """A retrieval snapshot; bare names are pages, `pyrus:` ids past tickets."""
    ids = [d if ":" in d else f"confluence:{d}" for d in documents]
    return Jsonb([{"chunk_id": f"{d}#{i}", "document_id": d} for i, d in enumerate(ids)])


@pytest.fixture(scope="module")
def built(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    rows = [  # ticket, arm, decided_at (UTC), retrieval snapshot, used documents
        (1, "treatment", "2026-11-20T09:00:00Z", _hits("pyrus:9", "A", "A", "B", "C"), ["B"]),
        (2, "treatment", "2026-11-20T10:00:00Z", _hits("D"), ["D", "E"]),
        (3, "holdout", "2026-11-20T11:00:00Z", _hits("X"), ["Y"]),
        (4, "treatment", "2026-11-20T12:00:00Z", _hits("A"), []),  # no labels: not counted
        (5, "treatment", "2026-11-20T22:30:00Z", _hits("A"), ["A"]),  # 01:30 in Moscow
    ]
    with psycopg.connect(database_url, autocommit=True) as conn:
        for ticket, arm, decided, retrieval, used in rows:
            conn.execute(
                "insert into assistant.suggestions (task_id, arm, arm_unit, holdout_share,"
                " decided_at, category_code, retrieval) values (%s, %s, 0.5, 0.2, %s,"
                " 'sso_ldap', %s)",
                (ticket, arm, decided, retrieval),
            )
            for document in used:
                conn.execute(
                    "insert into kb.answer_labels (ticket_id, document_id, method, strength)"
                    " values (%s, %s, 'overlap', 0.4)",
                    (ticket, f"confluence:{document}"),
                )
    work_dir: Path = tmp_path_factory.mktemp("dbt-quality")
    # cautious: only the tests whose parents are all selected (not the effect tests that
    # also read marts this module does not build); the mart's own rule test by name (the
    # other quality rules read marts this module does not build)
    dbt_runner.build(
        database_url,
        work_dir=work_dir,
        select=[*MODELS, "assert_retrieval_quality__rates_bounded"],
        indirect_selection="cautious",
    )
    return database_url


def _quality(url: str) -> dict[tuple[str, str], tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select decided_date_msk::text, arm, labelled_tickets, used_documents,"
            " tickets_used_document_retrieved, recall_at_1::float, recall_at_5::float,"
            " mrr::float from marts.fct_retrieval_quality_daily where category_code = 'sso_ldap'"
        ).fetchall()
    return {(row[0], row[1]): row[2:] for row in rows}


def test_recall_and_mrr_per_day_and_arm(built: str) -> None:
    assert _quality(built) == {
        # ticket 1: B is the 2nd page (the ticket before it is not a page) → r@1 0, r@5 1,
        # RR .5; ticket 2: D of {D, E} at 1
        ("2026-11-20", "treatment"): (2, 3, 2, 0.25, 0.75, 0.75),
        ("2026-11-20", "holdout"): (1, 1, 0, 0.0, 0.0, 0.0),  # would have missed Y
        ("2026-11-21", "treatment"): (1, 1, 1, 1.0, 1.0, 1.0),
    }


def test_the_mart_follows_new_labels_without_a_rebuild(built: str) -> None:
    with psycopg.connect(built, autocommit=True) as conn:
        conn.execute(
            "insert into kb.answer_labels (ticket_id, document_id, method, strength)"
            " values (3, 'confluence:X', 'confluence_link', 1.0)"
        )
        try:
            assert _quality(built)[("2026-11-20", "holdout")] == (1, 2, 1, 0.5, 0.5, 1.0)
        finally:
            conn.execute(
                "delete from kb.answer_labels where ticket_id = 3 and document_id = 'confluence:X'"
            )
