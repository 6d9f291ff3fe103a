"""The whole generated sample dataset through dbt: no failing test, counts as generated."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from flows import dbt_runner

pytestmark = [pytest.mark.db, pytest.mark.slow]

DATASET = Path(__file__).resolve().parents[2] / "sample_data" / "dataset"


@pytest.mark.skipif(
    not (DATASET / "pyrus_tasks.jsonl").exists(), reason="sample dataset not generated"
)
def test_sample_dataset_builds_without_failures(database_url: str, tmp_path: Path) -> None:
    from tests.dbt.dataset_loader import load_sample_dataset

    expected = json.loads((DATASET / "metadata.json").read_text(encoding="utf-8"))["counts"]
    loaded = load_sample_dataset(database_url, DATASET)

    summary = dbt_runner.build(database_url, work_dir=tmp_path)

    assert summary.tests_failed == summary.tests_errored == 0
    assert "assert_pyrus_tasks__category_choice_mapped" not in summary.warning_tests
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            """
            select
                (select count(*) from marts.fct_tickets),
                (select count(*) from staging.stg_pyrus__comments),
                (select count(*) from marts.fct_tickets where not is_closed),
                (select count(*) from marts.fct_tickets where reopen_count > 0),
                (select count(*) from marts.kb_documents where source = 'confluence'),
                (select count(*) from marts.kb_documents
                    where source = 'confluence' and not is_deleted),
                (select count(*) from marts.fct_tickets where staff_category_code is null)
            """
        ).fetchone()
    assert row == (
        expected["tickets"],
        expected["comments"],
        expected["open_tickets"],
        expected["reopened_tickets"],
        loaded["pages"],
        expected["pages_live_at_day2"],
        0,
    )
