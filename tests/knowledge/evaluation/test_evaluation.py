"""BEIR loading, metrics, and a full evaluation run on a scratch schema."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.db import connect
from assistant.knowledge.evaluation.beir import (
    EvaluationError,
    format_table,
    load_beir,
    prepare_run,
    run_evaluation,
)
from assistant.knowledge.evaluation.metrics import mean_metrics, query_metrics
from assistant.knowledge.search.config import default_config
from assistant.knowledge.search.retrieval import Retriever
from tests.knowledge.kb_helpers import FIXTURE, beir_mini, offline_settings


def test_metrics_by_hand() -> None:
    relevant = {"d2": 2, "d5": 1}
    m = query_metrics(["d1", "d2", "d3", "d4", "d5"], relevant)
    assert m["hit@1"] == 0.0
    assert m["hit@5"] == 1.0
    assert m["hit@10"] == 1.0
    assert m["mrr@10"] == pytest.approx(0.5)
    dcg = 3 / math.log2(3) + 1 / math.log2(6)
    idcg = 3 / math.log2(2) + 1 / math.log2(3)
    assert m["ndcg@10"] == pytest.approx(dcg / idcg)
    miss = query_metrics(["x"] * 3, relevant)
    assert miss["mrr@10"] == 0.0
    assert miss["ndcg@10"] == 0.0
    assert mean_metrics([m, miss])["hit@5"] == 0.5


def test_loader_reads_the_fixture() -> None:
    beir = beir_mini()
    assert len(beir.docs) == 30
    assert len(beir.queries) == 15
    assert beir.qrels["q1"] == {"confluence:1001": 2, "pyrus:5001": 1}
    sources = {doc.source for doc in beir.docs}
    assert sources == {"confluence", "pyrus"}


def test_loader_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "corpus.jsonl"
    bad.write_text('{"_id": "a", "text": "x"}\n{oops\n', encoding="utf-8")
    with pytest.raises(EvaluationError, match=r"corpus.jsonl:2: not JSON"):
        load_beir(bad, FIXTURE / "queries.jsonl", FIXTURE / "qrels.tsv")
    with pytest.raises(EvaluationError, match="does not exist"):
        load_beir(tmp_path / "none.jsonl", FIXTURE / "queries.jsonl", FIXTURE / "qrels.tsv")
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("q1\tconfluence:1001\n", encoding="utf-8")
    with pytest.raises(EvaluationError, match=r"qrels\.tsv:1"):
        load_beir(FIXTURE / "corpus.jsonl", FIXTURE / "queries.jsonl", qrels)


def test_loader_accepts_plain_id_key(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "pyrus:1", "title": "t", "text": "Вопрос: a\\nРешение: b"}\n')
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id": "q1", "text": "a"}\n')
    qrels = tmp_path / "r.tsv"
    qrels.write_text("q1\tpyrus:1\t1\n")
    beir = load_beir(corpus, queries, qrels)
    assert beir.docs[0].document_id == "pyrus:1"
    assert beir.docs[0].source == "pyrus"


@pytest.mark.db
def test_evaluation_runs_in_a_scratch_schema(database_url: str) -> None:
    with connect(database_url, autocommit=True) as conn:
        result = run_evaluation(
            conn, offline_settings(), beir_mini(), ["fts", "vector", "hybrid", "tsrank"]
        )
        leftovers = conn.execute(
            "select count(*) from information_schema.schemata where schema_name like 'kb_eval_%%'"
        ).fetchone()
        real = conn.execute("select count(*) from kb.chunks").fetchone()
    assert leftovers == (0,)
    assert real == (0,)
    assert result["queries"] == 15
    assert result["index"]["documents"] == 30
    for mode in ("fts", "vector", "hybrid"):
        assert result["modes"][mode]["hit@10"] >= 0.9, mode
    hybrid = result["modes"]["hybrid"]
    assert hybrid["mrr@10"] >= result["modes"]["tsrank"]["mrr@10"]
    assert 0 < result["no_match"]["threshold"] < 1
    assert result["tuned"]["hybrid"]["mrr@10"] >= hybrid["mrr@10"]


@pytest.mark.db
def test_cli_eval_retrieval_json(kb_env: str) -> None:
    from flows.cli import app

    runner = CliRunner()
    args = [
        "eval",
        "retrieval",
        "--corpus",
        str(FIXTURE / "corpus.jsonl"),
        "--queries",
        str(FIXTURE / "queries.jsonl"),
        "--qrels",
        str(FIXTURE / "qrels.tsv"),
        "--mode",
        "hybrid",
        "--json",
    ]
    outcome = runner.invoke(app, args)
    assert outcome.exit_code == 0, outcome.output
    payload = json.loads(outcome.stdout)
    assert list(payload["modes"]) == ["hybrid"]
    table = format_table(payload).splitlines()
    assert table[0].split() == ["mode", "hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10"]
    assert table[1].startswith("hybrid ")
    assert table[2].startswith("hybrid (tuned")


@pytest.mark.db
def test_evaluation_scores_a_query_as_the_bot_does(database_url: str) -> None:
    """The evaluation's ranking and no-match confidence are the bot's `Retriever.search`
    ones (one scoring function), whatever k the bot asks for."""
    beir = beir_mini()
    with connect(database_url, autocommit=True) as conn:
        run, store = prepare_run(conn, offline_settings(), beir)
        try:
            config = replace(default_config(run.retriever.embedder), vector_floor=0.3)
            bot = Retriever(run.store, run.retriever.embedder, config)
            for qid, text in beir.queries.items():
                result = bot.search(text, k=3)
                ranked = run.cache.ranked(qid, config)
                assert [hit.chunk_id for hit in result.hits] == ranked[:3], qid
                assert result.confidence == round(run.cache.confidence(qid, config), 6), qid
        finally:
            store.drop()
