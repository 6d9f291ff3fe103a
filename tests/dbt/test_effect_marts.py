"""The effect marts on the sample dataset recover the planted −25 % FRT effect.

One module-scoped pipeline, as the daily flow runs it: raw load → dbt → replay (the
bot's own assignment and logging) → dbt again for the marts → score → estimate.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, NoReturn

import psycopg
import pytest

from assistant.bot.arms import assign_arm
from assistant.effect.report_data import report_html
from assistant.effect.verdict import pct
from assistant.settings import AssistantSettings
from flows.effect import estimate_effects
from flows.replay import replay_new_tickets
from flows.score import score_suggestions
from tests.conftest import make_database
from tests.dbt.effect_pipeline import (
    DATASET,
    load_sample_raw,
    make_suggester,
    planted_effect,
    run_dbt,
)

pytestmark = pytest.mark.db

SNAPSHOT = {"effect_snapshot_at": "2026-11-24T15:00:00Z"}  # the dataset's last cutoff
AFTER_REPLAY = [
    "stg_assistant__suggestions+",
    "int_ticket_effect_metrics+",
    "int_suggestions_paired_with_replies+",
    "path:data-tests/effect",
]


@pytest.fixture(scope="module")
def pipeline(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from assistant.migrate import migrate

    url = make_database(pg_server, "t_effect_pipeline")
    migrate(url)
    work_dir = tmp_path_factory.mktemp("dbt-effect")
    load_sample_raw(url)
    run_dbt(url, [], work_dir, SNAPSHOT)
    settings = AssistantSettings(assistant_holdout=0.2)
    replay = replay_new_tickets(url, settings, suggester_factory=make_suggester)
    run_dbt(url, AFTER_REPLAY, work_dir, SNAPSHOT)
    score = score_suggestions(url)
    effect = estimate_effects(url, holdout_share=0.2, n_boot=1000)
    return {"url": url, "replay": replay, "score": score, "effect": effect, "settings": settings}


def _rows(url: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def test_planted_frt_effect_is_recovered(pipeline: dict[str, Any]) -> None:
    planted = planted_effect()
    [(rel, low, high, mde, n_t, n_c)] = _rows(
        pipeline["url"],
        "select rel_change, ci95_low, ci95_high, mde_80, n_treated, n_control"
        " from kb.effect_estimates where metric = 'frt_bm' and segment = 'ALL'"
        " and comparison = 'treatment_vs_holdout'",
    )
    assert low < planted < high
    assert abs(rel - planted) < 0.05
    assert 0 < mde < 1
    metadata = json.loads((DATASET / "metadata.json").read_text(encoding="utf-8"))
    assert (n_t, n_c) == (
        metadata["planted_effect"]["answered_tickets"]["treatment"],
        metadata["planted_effect"]["answered_tickets"]["holdout"],
    )


def test_did_and_resolution_estimates_exist(pipeline: dict[str, Any]) -> None:
    rows = _rows(
        pipeline["url"],
        "select metric, comparison, method, ci95_low <= rel_change and rel_change <= ci95_high"
        " from kb.effect_estimates where segment = 'ALL' order by 1, 2",
    )
    assert {(m, c) for m, c, _, _ in rows} == {
        ("frt_bm", "post_vs_pre"),
        ("frt_bm", "treatment_vs_holdout"),
        ("full_resolution_bm", "post_vs_pre"),
        ("full_resolution_bm", "treatment_vs_holdout"),
    }
    assert all(inside for *_, inside in rows)


def test_business_minutes_match_the_generator(pipeline: dict[str, Any]) -> None:
    """The dataset generator's own FRT-bm medians per arm (same calendar, same hours)."""
    expected = json.loads((DATASET / "metadata.json").read_text(encoding="utf-8"))
    medians = dict(
        _rows(
            pipeline["url"],
            "select assignment_arm, percentile_cont(0.5) within group (order by frt_bm)"
            " from marts.fct_tickets group by 1",
        )
    )
    for arm, value in expected["planted_effect"]["median_frt_bm"].items():
        assert medians[arm] == pytest.approx(value, abs=0.5)


def test_arms_come_from_the_bot_log(pipeline: dict[str, Any]) -> None:
    assert pipeline["replay"]["pending"] == pipeline["replay"]["logged"] == 534
    rows = _rows(pipeline["url"], "select ticket_id, assignment_arm from marts.fct_tickets")
    counts: dict[str, int] = {}
    for ticket_id, arm in rows:
        counts[arm] = counts.get(arm, 0) + 1
        if arm != "pre_rollout":
            assert arm == assign_arm(ticket_id, 0.2)
    metadata = json.loads((DATASET / "metadata.json").read_text(encoding="utf-8"))
    assert counts == metadata["arms"]


def test_replay_and_score_rerun_change_nothing(pipeline: dict[str, Any]) -> None:
    def no_index(conn: object) -> NoReturn:
        raise AssertionError("nothing to replay: the suggester must not be opened")

    again = replay_new_tickets(pipeline["url"], pipeline["settings"], suggester_factory=no_index)
    assert (again["pending"], again["logged"]) == (0, 0)
    rescored = score_suggestions(pipeline["url"])
    assert rescored["scored"] == pipeline["score"]["scored"] == 534
    [(n,)] = _rows(pipeline["url"], "select count(*) from assistant.suggestion_outcomes")
    assert n == 534


def test_drafts_used_above_chance(pipeline: dict[str, Any]) -> None:
    rows = dict(
        _rows(
            pipeline["url"],
            "select arm, avg((coalesce(chance_class, usage_class) in ('accepted', 'edited'))::int)"
            " from marts.fct_assistant_suggestions where is_replied group by 1",
        )
    )
    assert rows["treatment"] > 0.2
    assert rows["holdout"] < 0.05
    [(thresholds,)] = _rows(
        pipeline["url"],
        "select count(distinct (accepted_threshold, edited_threshold))"
        " from marts.fct_assistant_suggestions",
    )
    assert thresholds == 1
    assert pipeline["score"]["calibration_pairs"] == 88


def test_arm_comparison_joins_the_estimates(pipeline: dict[str, Any]) -> None:
    [(n_c, n_t, control, treated, raw, estimate)] = _rows(
        pipeline["url"],
        "select n_control, n_treated, control_value, treated_value, raw_rel_change,"
        " estimate_rel_change from marts.effect_arm_comparison"
        " where segment = 'ALL' and comparison = 'treatment_vs_holdout' and metric = 'frt_bm'",
    )
    assert (n_c, n_t) == (88, 446)
    assert treated < control
    assert raw == pytest.approx(planted_effect(), abs=0.01)
    assert estimate is not None


def test_daily_mart_reaggregates_to_the_ticket_mart(pipeline: dict[str, Any]) -> None:
    [(daily_tickets, daily_responded, daily_ln)] = _rows(
        pipeline["url"],
        "select sum(tickets_created), sum(n_responded), sum(sum_ln1p_frt_bm)"
        " from marts.effect_daily_by_category",
    )
    [(tickets, responded, ln_sum)] = _rows(
        pipeline["url"],
        "select count(*), count(frt_bm), sum(ln(1 + frt_bm)) from marts.fct_tickets",
    )
    assert (daily_tickets, daily_responded) == (tickets, responded)
    assert float(daily_ln) == pytest.approx(float(ln_sum))


def test_kb_gaps_count_no_good_match_tickets(pipeline: dict[str, Any]) -> None:
    [(gaps,)] = _rows(pipeline["url"], "select sum(tickets_without_good_match) from marts.kb_gaps")
    [(logged,)] = _rows(
        pipeline["url"], "select count(*) from assistant.suggestions where no_good_match"
    )
    assert gaps == logged > 0


def _label(url: str, rows: list[tuple[int, str]]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for ticket, document in rows:
            conn.execute(
                "insert into kb.answer_labels (ticket_id, document_id, method, strength)"
                " values (%s, %s, 'confluence_link', 1.0) on conflict do nothing",
                (ticket, document),
            )


def test_kb_gap_documents_rank_the_missed_documents(pipeline: dict[str, Any]) -> None:
    """Per document, the tickets where staff used it and it was not in the bot's top 5."""
    url = pipeline["url"]
    decided = [
        t
        for (t,) in _rows(
            url,
            "select ticket_id from intermediate.int_suggestions_paired_with_replies"
            " order by ticket_id limit 3",
        )
    ]
    shown = {
        t: d
        for t, d in _rows(
            url,
            "select ticket_id, document_id from staging.stg_assistant__suggestion_hits"
            " where document_rank = 1 and ticket_id = any(%s)",
            (decided,),
        )
    }
    hits = set(_rows(url, "select ticket_id, document_id from staging."
                          "stg_assistant__suggestion_hits where document_rank <= 5"))  # fmt: skip
    pages = [d for (d,) in _rows(url, "select document_id from marts.kb_documents order by 1")]
    often, once = [d for d in pages if all((t, d) not in hits for t in decided)][:2]
    labels = [(t, often) for t in decided[:2]] + [(decided[2], once)]
    labels += [(t, d) for t, d in shown.items()]  # found by the bot: not a gap
    _label(url, labels)
    try:
        rows = _rows(
            url,
            "select document_id, tickets_missed, gap_rank, title, category_codes"
            " from marts.kb_gap_documents order by gap_rank, document_id",
        )
        assert [(doc, n, rank) for doc, n, rank, *_ in rows] == [(often, 2, 1), (once, 1, 2)]
        assert all(title and categories for *_, title, categories in rows)
        [(per_cell,)] = _rows(url, "select sum(tickets_used_document_missed) from marts.kb_gaps")
        assert per_cell == 3  # three tickets, each in one week and category
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("delete from kb.answer_labels where ticket_id = any(%s)", (decided,))


def test_report_shows_plots_and_the_estimate(pipeline: dict[str, Any], tmp_path: Path) -> None:
    page = report_html(pipeline["url"], planted_effect=planted_effect())
    images = re.findall(r"<img alt='([^']+)' src='data:image/png;base64,", page)
    assert {"weekly median first response by arm", "draft adoption by week"} <= set(images)
    assert "Черновик пригодился в " in page  # adoption as a share
    assert "Ассистент включён</b> 03.08.2026" in page  # the rollout seed, up front
    headline = pipeline["effect"]
    assert pct(headline["frt_bm_rel_change"]) in page
    assert "Заложенный в демо-данные эффект: −25,0 %" in page
    assert "Первый ответ в срок SLA, %" in page  # the guardrails from effect_arm_comparison
    assert "Помог ли ИИ-помощник" in page  # the feedback field's answers
    # the verdict follows the estimate: shown only when the 95 % CI excludes zero
    shown = headline["frt_bm_ci95_high"] < 0
    assert ("Вывод: эффект показан" in page) == shown
    if not shown:
        assert "Эффект пока не показан" in page or "Эффект не обнаружен" in page
    assert "Разность разностей" in page
    for code in ("frt_bm", "post_vs_pre", "treatment_vs_holdout", "лечение"):
        assert code not in page


def test_arm_comparison_carries_russian_names(pipeline: dict[str, Any]) -> None:
    rows = _rows(
        pipeline["url"],
        "select distinct comparison, metric, segment_name_ru, comparison_name_ru,"
        " metric_name_ru, metric_unit_ru, estimate_method_name_ru"
        " from marts.effect_arm_comparison where segment = 'ALL' and metric = 'frt_bm'",
    )
    names = {row[0]: row[2:] for row in rows}
    assert names["treatment_vs_holdout"] == (
        "Все обращения", "С ассистентом против контрольной группы", "Время первого ответа",
        "раб. мин", "Отношение медиан",
    )  # fmt: skip
    assert names["post_vs_pre"][-1] == "Разность разностей"
    categories = _rows(
        pipeline["url"],
        "select count(*) filter (where segment_name_ru = segment), count(*)"
        " from marts.effect_arm_comparison where segment <> 'ALL'",
    )
    assert categories[0][0] == 0  # every category segment has its Russian name
