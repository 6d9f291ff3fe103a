"""The degraded query copy and the cross-validated choice of fusion and threshold."""

from __future__ import annotations

import random

import pytest

from assistant.db import connect
from assistant.knowledge.evaluation.beir import prepare_run
from assistant.knowledge.evaluation.calibrate import (
    CALIBRATION_GRID,
    FOLDS,
    SUFFIX,
    cross_validate,
    fold_of,
    report,
    with_degraded,
)
from assistant.knowledge.evaluation.degrade import degrade, degrade_queries, typo
from assistant.knowledge.search.config import (
    E5_DEFAULTS,
    TFIDF_DEFAULTS,
    RetrievalConfig,
    default_config,
)
from tests.knowledge.kb_helpers import beir_mini, offline_settings

QUERY = (
    "Не могу согласовать заявку\nНажимаю кнопку согласования, а задача остаётся у меня, "
    "одно поле в карточке подсвечено красным, что нужно заполнить и где это посмотреть?"
)


def test_degrade_is_deterministic_and_damages_the_text() -> None:
    once = degrade_queries({"q1": QUERY, "q2": QUERY})
    again = degrade_queries({"q1": QUERY, "q2": QUERY})
    assert once == again
    assert once["q1"] != once["q2"]  # each query has its own random stream
    degraded = once["q1"]
    assert degraded != QUERY
    assert len(degraded.split()) < len(QUERY.split())  # truncated and thinned
    assert degraded.split("\n")[0].split()[0][0] == "Н"  # the subject is still there


def test_typo_changes_one_letter_at_most_by_one_edit() -> None:
    rng = random.Random(3)
    for _ in range(50):
        word = "согласование"
        changed = typo(word, rng)
        assert abs(len(changed) - len(word)) <= 1
        assert changed[0] == word[0]
    assert typo("да", rng) == "да"
    assert degrade("Тема", random.Random(1)).startswith("Т")


def test_twins_share_a_fold_and_the_grid_is_small() -> None:
    for qid in ("q001", "q017", "q105"):
        assert fold_of(qid) == fold_of(f"{qid}{SUFFIX}")
        assert 0 <= fold_of(qid) < FOLDS
    configs = CALIBRATION_GRID.configs(RetrievalConfig())
    assert len(configs) < 120  # few parameters: the sample must not be memorised
    assert all(abs(c.w_vector + c.w_bm25 + c.w_trigram - 1) < 1e-9 for c in configs)
    assert {c.w_trigram for c in configs} == {0.0, 0.2, 0.3, 0.4}


@pytest.mark.db
def test_cross_validation_reports_held_out_figures(database_url: str) -> None:
    beir = with_degraded(beir_mini())
    assert len(beir.queries) == 2 * len(beir_mini().queries)
    with connect(database_url, autocommit=True) as conn:
        run, store = prepare_run(conn, offline_settings(), beir)
        try:
            result = report(run, RetrievalConfig())
            cv = cross_validate(run, RetrievalConfig())
        finally:
            store.drop()
    rows = result["rows"]
    assert {"vector", "bm25", "hybrid (5-fold CV, held-out)"} <= set(rows)
    for by_set in rows.values():
        for metrics in by_set.values():
            assert 0.0 <= metrics["mrr@10"] <= metrics["hit@10"] <= 1.0
    assert len(cv["folds"]) == FOLDS
    final = cv["final"]
    assert (final.fusion, final.w_vector, final.w_exact) in {
        (c.fusion, c.w_vector, c.w_exact) for c in CALIBRATION_GRID.configs(RetrievalConfig())
    }
    assert 0.0 < final.no_match_threshold < 1.0


def test_default_config_follows_the_embedder_kind() -> None:
    class E5Like:
        kind = "e5"

    class LocalLike:
        kind = "local"

    assert default_config(E5Like()) == RetrievalConfig(**E5_DEFAULTS)
    assert default_config(LocalLike()) == RetrievalConfig(**TFIDF_DEFAULTS)
    assert default_config(None) == RetrievalConfig(**TFIDF_DEFAULTS)
    for defaults in (E5_DEFAULTS, TFIDF_DEFAULTS):  # weights are shares of one
        config = RetrievalConfig(**defaults)
        assert config.w_vector + config.w_bm25 + config.w_trigram == pytest.approx(1.0)
        assert "trigram" in config.legs
