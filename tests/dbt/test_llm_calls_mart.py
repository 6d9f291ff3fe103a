"""fct_llm_calls_daily on hand-computable rows: calls, fallbacks by reason, latency, tokens."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from assistant.effect.llm_health import load_llm_health, section_html
from flows import dbt_runner

pytestmark = [pytest.mark.db, pytest.mark.slow]

MODELS = ["stg_assistant__llm_calls", "fct_llm_calls_daily"]


@pytest.fixture(scope="module")
def built(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    rows = [  # ticket, generated_at (UTC), mode, fallback reason, llm_ms, prompt, answer tokens
        (1, "2026-11-20T09:00:00Z", "llm", None, 1000, 1500, 300),
        (2, "2026-11-20T10:00:00Z", "llm", None, 2000, 1700, 250),
        (3, "2026-11-20T11:00:00Z", "retrieval_only", "llm_truncated", 9000, 1600, 1200),
        (4, "2026-11-20T12:00:00Z", "retrieval_only", "llm_context", 5, None, None),
        (5, "2026-11-20T13:00:00Z", "retrieval_only", "llm_not_configured", 0, None, None),
        (6, "2026-11-20T22:30:00Z", "retrieval_only", "llm_uncited", 3000, 1400, 200),  # 21st MSK
        (7, "2026-11-20T14:00:00Z", "no_match", None, 0, None, None),  # the LLM was not asked
        (8, "2026-11-22T09:00:00Z", "retrieval_only", "llm_unsafe", 4000, 1500, 300),  # guard
    ]
    with psycopg.connect(database_url, autocommit=True) as conn:
        for ticket, generated, mode, reason, llm_ms, prompt, answer in rows:
            conn.execute(
                "insert into assistant.suggestions (task_id, arm, arm_unit, holdout_share,"
                " decided_at, generated_at, mode, fallback_reason, llm_ms, prompt_tokens,"
                " completion_tokens, llm_output_mode, llm_finish_reason)"
                " values (%s, 'treatment', 0.5, 0.2, %s, %s, %s, %s, %s, %s, %s,"
                " 'json_schema', 'stop')",
                (ticket, generated, generated, mode, reason, llm_ms, prompt, answer),
            )
    work_dir: Path = tmp_path_factory.mktemp("dbt-llm-calls")
    dbt_runner.build(
        database_url,
        work_dir=work_dir,
        select=[*MODELS, "path:data-tests/quality/assert_llm_calls__fallbacks_add_up.sql"],
        indirect_selection="cautious",
    )
    return database_url


def test_daily_calls_fallbacks_latency_and_tokens(built: str) -> None:
    with psycopg.connect(built) as conn:
        rows = conn.execute(
            "select generated_date_msk::text, llm_calls, llm_suggestions, fallback_truncated,"
            " fallback_context, fallback_uncited, fallback_unsafe, fallbacks, fallback_rate::float,"
            " latency_p50_ms::float, latency_p95_ms::float, prompt_tokens, completion_tokens"
            " from marts.fct_llm_calls_daily order by 1"
        ).fetchall()
    assert rows == [
        # tickets 1-4: not-configured and no-match tickets are no LLM calls
        # latency of 5, 1000, 2000, 9000 ms: p50 halfway 1000-2000, p95 at 2000 + .85 * 7000
        ("2026-11-20", 4, 2, 1, 1, 0, 0, 2, 0.5, 1500.0, 7950.0, 4800, 1750),
        ("2026-11-21", 1, 0, 0, 0, 1, 0, 1, 1.0, 3000.0, 3000.0, 1400, 200),
        ("2026-11-22", 1, 0, 0, 0, 0, 1, 1, 1.0, 4000.0, 4000.0, 1500, 300),
    ]


def test_the_report_section_reads_the_mart(built: str) -> None:
    with psycopg.connect(built) as conn:
        health = load_llm_health(conn)
    assert (health.days, health.calls, health.llm_suggestions) == (3, 6, 2)
    assert health.fallbacks["fallback_truncated"] == 1
    assert health.fallbacks["fallback_uncited"] == 1
    assert health.fallbacks["fallback_unsafe"] == 1
    assert health.latency_p95_ms == 7950.0
    page = section_html(health)
    assert "Здоровье языковой модели" in page
    assert "6 запросов, из них 2 (33%) стали подсказкой модели" in page
    assert "<td>ответ оборвался на лимите длины</td><td>1</td>" in page
    assert "<td>ответ не прошёл проверку безопасности</td><td>1</td>" in page


def test_no_llm_calls_no_section() -> None:
    from assistant.effect.llm_health import LLMHealth

    assert section_html(LLMHealth()) == ""
