"""Offline retrieval evaluation on any BEIR-format set.

The corpus is indexed into a scratch schema (a copy of the `kb` tables that is dropped
afterwards) with the configured embedder, so the real index is never touched. Every
query runs in each mode — `fts` (BM25 + exact tokens), `vector`, `hybrid` — plus the
`tsrank` baseline (Postgres ts_rank_cd over an OR query) for reference. Metrics are per
document (chunk hits are collapsed to their document, best rank first): hit@1/5/10,
MRR@10, nDCG@10.

`tune` re-fuses the cached legs in-process over a small grid of weights and fusions,
and the no-match threshold is fitted: positives are the set's queries whose relevant
document is in the top 10, negatives are off-topic probes (`metrics.OFF_TOPIC_QUERIES`);
the threshold maximises balanced accuracy (`fitting.py`, shared with calibrate and tune).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import psycopg

from assistant.errors import KbError
from assistant.jsonl import json_objects
from assistant.knowledge.embedders.factory import embedder_for_record
from assistant.knowledge.evaluation.fitting import (
    Grid,
    LegCache,
    ThresholdFit,
    best_config,
    fit_threshold,
)
from assistant.knowledge.evaluation.metrics import mean_metrics, query_metrics
from assistant.knowledge.index.chunking import KbDocument
from assistant.knowledge.index.indexing import index_documents
from assistant.knowledge.index.store import KnowledgeStore
from assistant.knowledge.search.config import (
    RetrievalConfig,
    apply_params,
    default_config,
    stored_params,
)
from assistant.knowledge.search.retrieval import Retriever
from assistant.settings import AssistantSettings

logger = logging.getLogger(__name__)

MODES = {
    "vector": ("vector",),
    "bm25": ("bm25",),
    "fts": ("bm25", "exact"),
    # re-scores the vector and BM25 candidates; alone it shows what the trigrams rank
    "trigram": ("trigram",),
    "hybrid": ("vector", "bm25", "exact", "trigram"),
}


class EvaluationError(KbError):
    """The BEIR files are missing or malformed."""


@dataclass(frozen=True)
class BeirSet:
    docs: list[KbDocument]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """BEIR records, each with an `_id` (a plain `id` is accepted: BEIR proper says `_id`)."""
    rows = json_objects(path, EvaluationError)
    for number, record in rows:
        if "_id" not in record and "id" in record:
            record["_id"] = record["id"]
        if "_id" not in record:
            raise EvaluationError(f"{path}:{number}: a record needs an `_id`")
    return rows


def load_beir(corpus: Path, queries: Path, qrels: Path) -> BeirSet:
    """Read corpus.jsonl, queries.jsonl and qrels.tsv (header optional)."""
    docs = []
    for _, record in _read_jsonl(corpus):
        doc_id = str(record["_id"])
        meta = record.get("metadata") or {}
        source = meta.get("source") or ("pyrus" if doc_id.startswith("pyrus:") else "confluence")
        docs.append(
            KbDocument(
                document_id=doc_id,
                source=source,
                title=str(record.get("title") or ""),
                url=str(meta.get("url") or ""),
                body=str(record.get("text") or ""),
                category_code=meta.get("category_code") or meta.get("category"),
            )
        )
    query_map = {str(r["_id"]): str(r.get("text") or "") for _, r in _read_jsonl(queries)}
    if not qrels.is_file():
        raise EvaluationError(f"{qrels} does not exist")
    judged: dict[str, dict[str, int]] = {}
    for number, line in enumerate(qrels.read_text("utf-8").splitlines(), start=1):
        fields = line.strip().split("\t")
        is_header = number == 1 and fields[0].lower().replace("_", "-") in ("query-id", "qid")
        if not line.strip() or is_header:
            continue
        if len(fields) < 3 or not fields[2].lstrip("-").isdigit():
            raise EvaluationError(f"{qrels}:{number}: expected query-id, corpus-id, score")
        judged.setdefault(fields[0], {})[fields[1]] = int(fields[2])
    if not docs or not query_map or not judged:
        raise EvaluationError("the BEIR set is empty (corpus, queries or qrels)")
    return BeirSet(docs, query_map, judged)


# --- running ----------------------------------------------------------------------------


@dataclass
class EvalRun:
    """A BEIR set indexed into a scratch schema, with every query's legs cached once."""

    store: KnowledgeStore
    retriever: Retriever
    beir: BeirSet
    cache: LegCache
    tsrank: dict[str, dict[str, float]]
    index_report: dict[str, object]

    @property
    def judged(self) -> set[str]:
        """The judged queries that were searched (a query without text is not)."""
        return {qid for qid in self.beir.qrels if qid in self.cache.legs}

    def ranked_documents(self, qid: str, mode: str, config: RetrievalConfig) -> list[str]:
        """The query's documents best first under `mode` (the top `CUTOFF`)."""
        if mode == "tsrank":
            scores = self.tsrank[qid]
            chunks = sorted(scores, key=lambda cid: (-scores[cid], cid))
        else:
            chunks = self.cache.ranked(qid, config, MODES[mode])
        return self.cache.documents(chunks)

    def evaluate(
        self, mode: str, config: RetrievalConfig, qids: set[str] | None = None
    ) -> dict[str, float]:
        """Mean metrics of `mode` over the judged queries (or only `qids`)."""
        return mean_metrics(
            [
                query_metrics(self.ranked_documents(qid, mode, config), relevant)
                for qid, relevant in self.beir.qrels.items()
                if qid in self.cache.legs and (qids is None or qid in qids)
            ]
        )

    def no_match(self, config: RetrievalConfig, qids: set[str] | None = None) -> ThresholdFit:
        """The no-match threshold fitted for `config`: answered = judged queries with a
        relevant document in the top `CUTOFF`, unanswered = the off-topic probes."""
        answered = []
        for qid, relevant in self.beir.qrels.items():
            if qid not in self.cache.legs or (qids is not None and qid not in qids):
                continue
            chunks = self.cache.ranked(qid, config)
            if any(relevant.get(doc, 0) > 0 for doc in self.cache.documents(chunks)):
                answered.append(self.cache.confidence(qid, config, chunks))
        unanswered = self.cache.off_topic_confidences(config)
        return fit_threshold(answered, unanswered, config.no_match_threshold)


def prepare_run(
    conn: psycopg.Connection, settings: AssistantSettings, beir: BeirSet
) -> tuple[EvalRun, KnowledgeStore]:
    """Index the corpus into a scratch schema and collect every leg for every query."""
    schema = f"kb_eval_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    store = KnowledgeStore.create_scratch(conn, schema)
    try:
        report = index_documents(store, beir.docs, settings, full=True)
        if conn.autocommit:
            store.vacuum()
        record = store.get_embedder(active=True)
        embedder = embedder_for_record(record, settings) if record else None
        base = default_config(embedder)
        retriever = Retriever(store, embedder, replace(base, legs=MODES["hybrid"]))
        cache = LegCache.collect(retriever, beir.queries)
        tsrank = {
            qid: dict(store.tsrank_search(text, limit=base.candidates))
            for qid, text in beir.queries.items()
            if text
        }
    except BaseException:
        store.drop()
        raise
    return EvalRun(store, retriever, beir, cache, tsrank, report.as_dict()), store


# The in-sample grid of `kb eval retrieval`: fusion × vector × trigram × exact weight,
# BM25 gets the rest of vector + trigram; best by MRR@10, then nDCG@10.
EVAL_GRID = Grid(
    fusions=("calibrated", "minmax", "rrf"),
    weights={
        "w_vector": (0.2, 0.3, 0.4, 0.5, 0.6, 0.7),
        "w_trigram": (0.0, 0.2, 0.4),
        "w_exact": (0.0, 0.1, 0.2),
    },
    remainder=("w_bm25", ("w_vector", "w_trigram")),
)


def tune(run: EvalRun, base: RetrievalConfig) -> tuple[RetrievalConfig, dict[str, float]]:
    """Grid-search fusion and weights on the cached legs (in-sample; report it as such)."""

    def score(config: RetrievalConfig) -> tuple[float, float]:
        metrics = run.evaluate("hybrid", config)
        return metrics["mrr@10"], metrics["ndcg@10"]

    best = best_config(EVAL_GRID.configs(replace(base, legs=MODES["hybrid"])), score)
    return best, run.evaluate("hybrid", best)


def run_evaluation(
    conn: psycopg.Connection,
    settings: AssistantSettings,
    beir: BeirSet,
    modes: Sequence[str],
    *,
    config_version: str | None = None,
) -> dict[str, Any]:
    """Everything `kb eval retrieval` prints, as a JSON-able dict.

    It runs the calibrated defaults of the embedder the corpus was indexed with, or with
    `config_version` the stored configuration laid over those same defaults: what the
    bot runs when that version is active.
    """
    unknown = [mode for mode in modes if mode not in (*MODES, "tsrank")]
    if unknown:
        raise EvaluationError(f"unknown mode(s) {unknown}; use vector, bm25, fts, hybrid or all")
    # an unknown version fails before the corpus is indexed
    params = stored_params(conn, config_version) if config_version is not None else {}
    run, store = prepare_run(conn, settings, beir)
    try:
        config = apply_params(default_config(run.retriever.embedder), params)
        results = {mode: run.evaluate(mode, config) for mode in modes}
        tuned, tuned_metrics = tune(run, config)
        return {
            "corpus_documents": len(beir.docs),
            "queries": len(run.cache.legs),
            "index": run.index_report,
            "embedder": run.retriever.embedder.key if run.retriever.embedder else "none",
            "config": asdict(config),
            "modes": results,
            "no_match": asdict(run.no_match(config)),
            "tuned": {
                "config": asdict(tuned),
                "hybrid": tuned_metrics,
                "no_match": asdict(run.no_match(tuned)),
                "note": "in-sample: weights chosen on the same queries",
            },
        }
    finally:
        store.drop()


def modes_for(mode: str) -> list[str]:
    """`all` → every mode plus the ts_rank_cd baseline; otherwise the one mode."""
    return [*MODES, "tsrank"] if mode == "all" else [mode]


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table of the metrics per mode, for the CLI."""
    keys = ("hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10")
    lines = [f"{'mode':<27}" + "".join(f"{key:>9}" for key in keys)]
    rows = dict(result["modes"])
    if "hybrid" in rows:
        rows["hybrid (tuned, in-sample)"] = result["tuned"]["hybrid"]
    for mode, metrics in rows.items():
        label = "tsrank_cd (baseline)" if mode == "tsrank" else mode
        lines.append(f"{label:<27}" + "".join(f"{metrics[key]:>9.4f}" for key in keys))
    no_match = result["no_match"]
    tuned = result["tuned"]["config"]
    lines += [
        "",
        f"corpus {result['corpus_documents']} documents, {result['index']['chunks']} chunks, "
        f"{result['queries']} queries; embedder {result['embedder']}",
        f"no-match threshold {no_match['threshold']} (answered kept {no_match['tpr']:.0%}, "
        f"off-topic flagged {no_match['tnr']:.0%})",
        f"tuned: fusion={tuned['fusion']} w_vector={tuned['w_vector']:.2f} "
        f"w_bm25={tuned['w_bm25']:.2f} w_exact={tuned['w_exact']:.2f} "
        f"w_trigram={tuned['w_trigram']:.2f}; "
        f"threshold {result['tuned']['no_match']['threshold']}",
    ]
    return "\n".join(lines)
