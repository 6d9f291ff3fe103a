"""The dbt macro mask_pii masks every case of tests/mask_cases.yaml as the file says.

Compiled by dbt from the project's own macro and run by Postgres, as kb_documents runs
it; the Python masking runs the same file in tests/assistant/test_mask_cases.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from flows import dbt_runner
from tests import mask_cases

pytestmark = [pytest.mark.db, pytest.mark.slow]

PUBLIC_ROWS, CASES = mask_cases.load()


@pytest.fixture(scope="module")
def masked(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Each case through mask_pii (with the public contacts where the case says so)."""
    work_dir = tmp_path_factory.mktemp("kb-data") / "dbt"
    sql = dbt_runner.compile_inline(
        database_url,
        "select case when cases.public"
        f" then {{{{ mask_pii('cases.raw_text', {json.dumps(PUBLIC_ROWS, ensure_ascii=False)}) }}}}"
        " else {{ mask_pii('cases.raw_text') }} end as masked"
        " from pg_temp.cases order by position",
        work_dir=work_dir,
    )
    with psycopg.connect(database_url) as conn:
        conn.execute("create temp table cases (position int, raw_text text, public bool)")
        with conn.cursor() as cur:
            cur.executemany(
                "insert into cases values (%s, %s, %s)",
                [(i, case.text, case.public) for i, case in enumerate(CASES)],
            )
            cur.execute(sql)  # compiled by dbt from the project's own macro
            return [row[0] for row in cur.fetchall()]


@pytest.mark.parametrize("index", range(len(CASES)), ids=[case.text[:40] for case in CASES])
def test_case(masked: list[str], index: int) -> None:
    assert masked[index] == CASES[index].dbt


def test_cases_file_is_shared() -> None:
    """The differences on purpose are few and each says why (tests/mask_cases.yaml)."""
    assert Path(mask_cases.CASES_FILE).exists()
    differing = [case for case in CASES if case.dbt != case.masked]
    assert len(differing) <= 5
