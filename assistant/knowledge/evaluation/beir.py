"""Offline retrieval evaluation on any BEIR-format set.

The corpus is indexed into a scratch schema (a copy of the `kb` tables that is dropped
afterwards) with the configured embedder, so the real index is never touched. Every
query runs in each mode — `fts` (BM25 + exact tokens), `vector`, `hybrid` — plus the
`tsrank` baseline (Postgres ts_rank_cd over an OR query) for reference. Metrics are per
document (chunk hits are collapsed to their document, best rank first): hit@1/5/10,
MRR@10, nDCG@10.

`tune` re-fuses the cached legs in-process over a small grid of weights and fusions,
and calibrates the no-match threshold: positives are the set's queries whose relevant
document is in the top 10, negatives are off-topic probes (`OFF_TOPIC_QUERIES`); the
threshold maximises balanced accuracy.
"""

from __future__ import annotations

import itertools
import logging
import math
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
from assistant.knowledge.index.chunking import KbDocument
from assistant.knowledge.index.indexing import index_documents
from assistant.knowledge.index.store import KnowledgeStore
from assistant.knowledge.search.retrieval import (
    RetrievalConfig,
    Retriever,
    confidence,
    default_config,
    fuse,
)
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
CUTOFF = 10
OFF_TOPIC_QUERIES = (
    "Посудомойка не сливает воду\nПосле переезда посудомоечная машина Bosch не сливает воду, "
    "горит ошибка E24. Фильтр почистили, не помогло. Что делать?",
    "Рецепт борща\nПодскажите, сколько варить говядину для борща и когда добавлять свёклу, "
    "чтобы цвет остался ярким?",
    "Зимние шины\nКакие шипованные шины выбрать для кроссовера на зиму в Подмосковье, "
    "если ездим в основном по городу?",
    "Собака не слушается\nЩенок лабрадора грызёт мебель и не реагирует на команду «сидеть». "
    "Как его приучить?",
    "Билеты в театр\nГде купить билеты в Большой театр на «Щелкунчика» в декабре и сколько "
    "они стоят?",
    "Тюльпаны осенью\nКогда сажать луковицы тюльпанов и на какую глубину, чтобы весной зацвели?",
    "Электричка до Подольска\nВо сколько первая электричка с Курского вокзала до "
    "Подольска в выходные?",
    "Протекает кран\nНа кухне капает смеситель, поменяли прокладку, всё равно течёт. "
    "Нужно ли менять картридж?",
    "Отпуск в Турции\nКакой отель в Анталии выбрать с детьми на майские праздники, "
    "чтобы был аквапарк?",
    "Глинтвейн дома\nКак сварить глинтвейн без алкоголя на вишнёвом соке, какие специи нужны?",
    "Шахматы для детей\nС какого возраста учить ребёнка играть в шахматы и какие книги "
    "подойдут для начала?",
    "Ноутбук греется\nИгровой ноутбук сильно шумит и нагревается до 95 градусов в играх, "
    "поможет ли замена термопасты?",
)


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


# --- metrics ----------------------------------------------------------------------------


def query_metrics(ranked: Sequence[str], relevant: dict[str, int]) -> dict[str, float]:
    """hit@1/5/10, reciprocal rank and nDCG@10 of one ranked document list."""
    top = list(ranked[:CUTOFF])
    positives = {doc for doc, rel in relevant.items() if rel > 0}
    first = next((i for i, doc in enumerate(top, start=1) if doc in positives), None)
    dcg = sum((2 ** relevant.get(doc, 0) - 1) / math.log2(i + 1) for i, doc in enumerate(top, 1))
    ideal = sorted((rel for rel in relevant.values() if rel > 0), reverse=True)[:CUTOFF]
    idcg = sum((2**rel - 1) / math.log2(i + 1) for i, rel in enumerate(ideal, 1))
    return {
        "hit@1": float(first == 1),
        "hit@5": float(first is not None and first <= 5),
        "hit@10": float(first is not None),
        "mrr@10": 1.0 / first if first else 0.0,
        "ndcg@10": dcg / idcg if idcg else 0.0,
    }


def mean_metrics(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    keys = ("hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10")
    return {key: round(sum(r[key] for r in rows) / len(rows), 4) if rows else 0.0 for key in keys}


def _documents(owners: dict[str, str], chunk_scores: dict[str, float]) -> list[str]:
    """Chunk scores → document ids, best chunk first."""
    ranked = sorted(chunk_scores.items(), key=lambda item: (-item[1], item[0]))
    seen: list[str] = []
    for chunk_id, _ in ranked:
        doc = owners.get(chunk_id)
        if doc is not None and doc not in seen:
            seen.append(doc)
    return seen


# --- running ----------------------------------------------------------------------------


@dataclass
class EvalRun:
    """Cached legs per query, so modes and weight grids re-fuse without re-querying."""

    store: KnowledgeStore
    retriever: Retriever
    beir: BeirSet
    legs: dict[str, dict[str, dict[str, float]]]
    tsrank: dict[str, dict[str, float]]
    off_topic: list[dict[str, dict[str, float]]]
    index_report: dict[str, object]
    owners: dict[str, str]

    def evaluate(
        self, mode: str, config: RetrievalConfig, qids: set[str] | None = None
    ) -> dict[str, float]:
        """Mean metrics of `mode` over the judged queries (or only `qids`)."""
        rows = []
        for qid, relevant in self.beir.qrels.items():
            if qid not in self.legs or (qids is not None and qid not in qids):
                continue
            if mode == "tsrank":
                scores = self.tsrank[qid]
            else:
                wanted = MODES[mode]
                legs = {leg: s for leg, s in self.legs[qid].items() if leg in wanted}
                scores = fuse(legs, config)
            rows.append(query_metrics(_documents(self.owners, scores), relevant))
        return mean_metrics(rows)


def prepare_run(
    conn: psycopg.Connection,
    settings: AssistantSettings,
    beir: BeirSet,
    *,
    config: RetrievalConfig | None = None,
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
        base = config or RetrievalConfig()
        retriever = Retriever(store, embedder, replace(base, legs=MODES["hybrid"]))
        retriever.prime([*beir.queries.values(), *OFF_TOPIC_QUERIES])
        legs = {qid: retriever.legs(text) for qid, text in beir.queries.items() if text}
        tsrank = {
            qid: dict(store.tsrank_search(text, limit=base.candidates))
            for qid, text in beir.queries.items()
            if text
        }
        off_topic = [retriever.legs(text) for text in OFF_TOPIC_QUERIES]
    except BaseException:
        store.drop()
        raise
    owners = store.chunk_owners()
    run = EvalRun(store, retriever, beir, legs, tsrank, off_topic, report.as_dict(), owners)
    return run, store


def _top_chunks(
    run: EvalRun, legs: dict[str, dict[str, float]], config: RetrievalConfig, k: int = 8
) -> list[str]:
    fused = fuse(legs, config)
    return [cid for cid, _ in sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]]


def calibrate_threshold(
    run: EvalRun, config: RetrievalConfig, qids: set[str] | None = None
) -> dict[str, float]:
    """The no-match threshold maximising balanced accuracy (answered vs off-topic)."""
    positives, negatives = [], []
    for qid, relevant in run.beir.qrels.items():
        legs = run.legs.get(qid)
        if not legs or (qids is not None and qid not in qids):
            continue
        docs = _documents(run.owners, fuse(legs, config))
        if any(relevant.get(doc, 0) > 0 for doc in docs[:CUTOFF]):
            positives.append(confidence(legs, _top_chunks(run, legs, config), config.vector_floor))
    negatives = [
        confidence(legs, _top_chunks(run, legs, config), config.vector_floor)
        for legs in run.off_topic
    ]
    if not positives:
        return {"threshold": config.no_match_threshold, "tpr": 0.0, "tnr": 0.0}
    best_t, best_score = config.no_match_threshold, -1.0
    for candidate in sorted({*positives, *negatives}):
        tpr = sum(p >= candidate for p in positives) / len(positives)
        tnr = sum(n < candidate for n in negatives) / len(negatives)
        if (tpr + tnr) / 2 > best_score:
            best_t, best_score = candidate, (tpr + tnr) / 2
    below = max([n for n in negatives if n < best_t], default=0.0)
    threshold = round((best_t + below) / 2, 4)  # midway between the classes
    tpr = sum(p >= threshold for p in positives) / len(positives)
    tnr = sum(n < threshold for n in negatives) / len(negatives)
    return {"threshold": threshold, "tpr": round(tpr, 4), "tnr": round(tnr, 4)}


def tune(run: EvalRun, base: RetrievalConfig) -> tuple[RetrievalConfig, dict[str, float]]:
    """Grid-search fusion and weights on the cached legs (in-sample; report it as such)."""
    best, best_key = base, (-1.0, -1.0)
    for fusion, w_vector, w_trigram, w_exact in itertools.product(
        ("calibrated", "minmax", "rrf"),
        (0.2, 0.3, 0.4, 0.5, 0.6, 0.7),
        (0.0, 0.2, 0.4),
        (0.0, 0.1, 0.2),
    ):
        w_bm25 = round(1 - w_vector - w_trigram, 2)
        if w_bm25 < 0:
            continue
        candidate = replace(
            base,
            legs=MODES["hybrid"],
            fusion=fusion,
            w_vector=w_vector,
            w_bm25=w_bm25,
            w_trigram=w_trigram,
            w_exact=w_exact,
        )
        metrics = run.evaluate("hybrid", candidate)
        key = (metrics["mrr@10"], metrics["ndcg@10"])
        if key > best_key:
            best, best_key = candidate, key
    return best, run.evaluate("hybrid", best)


def run_evaluation(
    conn: psycopg.Connection,
    settings: AssistantSettings,
    beir: BeirSet,
    modes: Sequence[str],
    *,
    config: RetrievalConfig | None = None,
) -> dict[str, Any]:
    """Everything `kb eval retrieval` prints, as a JSON-able dict."""
    unknown = [mode for mode in modes if mode not in (*MODES, "tsrank")]
    if unknown:
        raise EvaluationError(f"unknown mode(s) {unknown}; use vector, bm25, fts, hybrid or all")
    run, store = prepare_run(conn, settings, beir, config=config)
    try:
        # as shipped: the calibrated defaults of the embedder the corpus was indexed with
        config = config or default_config(run.retriever.embedder)
        results = {mode: run.evaluate(mode, config) for mode in modes}
        tuned, tuned_metrics = tune(run, config)
        return {
            "corpus_documents": len(beir.docs),
            "queries": len(run.legs),
            "index": run.index_report,
            "embedder": run.retriever.embedder.key if run.retriever.embedder else "none",
            "config": asdict(config),
            "modes": results,
            "no_match": calibrate_threshold(run, config),
            "tuned": {
                "config": asdict(tuned),
                "hybrid": tuned_metrics,
                "no_match": calibrate_threshold(run, tuned),
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
