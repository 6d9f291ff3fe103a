"""Choose the hybrid fusion and the no-match threshold by cross-validation.

Why: weights tuned on the very queries they are scored on flatter the synthetic sample
(its paraphrases share many words with the pages) and would not carry over to real
tickets. So the queries of a BEIR set *and* their degraded copy
(`assistant.knowledge.evaluation.degrade`: typos, dropped words, truncation) are split into folds
by original query (a query and its degraded twin never straddle folds); for each fold
the configuration with the best mean MRR@10 on the other folds is scored on it. The
grid is small on purpose — fusion (min-max or RRF), the vector and trigram weights (BM25
gets the rest) and the exact-token weight — and the threshold has one extra knob, the
cosine floor of the semantic evidence (see `retrieval.confidence`).

    .venv/bin/python -m assistant.knowledge.evaluation.calibrate   # the sample eval set

prints every leg and the hybrid on the sample and the degraded queries, the
cross-validated hybrid, and the configuration chosen on all queries (the defaults to
ship in `RetrievalConfig`).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from assistant.knowledge.evaluation.beir import BeirSet, EvalRun, load_beir, prepare_run
from assistant.knowledge.evaluation.degrade import degrade_queries
from assistant.knowledge.evaluation.fitting import Grid, best_config
from assistant.knowledge.evaluation.metrics import mean_metrics
from assistant.knowledge.search.config import RetrievalConfig, default_config

logger = logging.getLogger(__name__)

SUFFIX = "~degraded"
FOLDS = 5
EVAL_DIR = Path(__file__).resolve().parents[3] / "sample_data/dataset/eval"


# {minmax, rrf} × w_vector 0.2–0.8 × w_trigram {0, .2, .3, .4} × w_exact {0, .1}; BM25 gets
# the rest of vector + trigram (configurations that leave it none are skipped).
CALIBRATION_GRID = Grid(
    fusions=("minmax", "rrf"),
    weights={
        "w_vector": (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
        "w_trigram": (0.0, 0.2, 0.3, 0.4),
        "w_exact": (0.0, 0.1),
    },
    remainder=("w_bm25", ("w_vector", "w_trigram")),
)
FLOORS = (None, 0.70, 0.75, 0.78, 0.80, 0.82, 0.85)


def with_degraded(beir: BeirSet) -> BeirSet:
    """The set plus a degraded twin of every query (`<id>~degraded`), judged alike."""
    degraded = degrade_queries(beir.queries)
    queries = {**beir.queries, **{f"{qid}{SUFFIX}": text for qid, text in degraded.items()}}
    qrels = {**beir.qrels, **{f"{qid}{SUFFIX}": rel for qid, rel in beir.qrels.items()}}
    return BeirSet(beir.docs, queries, qrels)


def fold_of(qid: str, folds: int = FOLDS) -> int:
    original = qid.removesuffix(SUFFIX)
    return int(hashlib.sha256(original.encode()).hexdigest(), 16) % folds


def best_weights(run: EvalRun, configs: list[RetrievalConfig], qids: set[str]) -> RetrievalConfig:
    """The grid's best configuration on `qids` by MRR@10, then hit@10."""

    def score(config: RetrievalConfig) -> tuple[float, float]:
        metrics = run.evaluate("hybrid", config, qids)
        return metrics["mrr@10"], metrics["hit@10"]

    return best_config(configs, score)


def best_floor(run: EvalRun, config: RetrievalConfig, qids: set[str]) -> RetrievalConfig:
    """The threshold (and cosine floor, or none) with the best balanced accuracy."""
    scored = []
    for floor in FLOORS:
        candidate = replace(config, vector_floor=floor)
        result = run.no_match(candidate, qids)
        scored.append((result.tpr + result.tnr, floor is None, candidate, result))
    _, _, chosen, result = max(scored, key=lambda item: (item[0], item[1]))
    return replace(chosen, no_match_threshold=result.threshold)


def cross_validate(run: EvalRun, base: RetrievalConfig) -> dict[str, Any]:
    """Held-out hybrid metrics (sample and degraded), per-fold choices, the final config."""
    configs = CALIBRATION_GRID.configs(base)
    judged = run.judged
    held_out: dict[str, list[dict[str, float]]] = {"sample": [], "degraded": []}
    chosen = []
    for fold in range(FOLDS):
        test = {qid for qid in judged if fold_of(qid) == fold}
        train = judged - test
        config = best_floor(run, best_weights(run, configs, train), train)
        chosen.append(
            {
                "fold": fold,
                **{
                    k: asdict(config)[k]
                    for k in ("fusion", "w_vector", "w_bm25", "w_trigram", "w_exact")
                },
                "vector_floor": config.vector_floor,
                "threshold": config.no_match_threshold,
                "no_match_test": asdict(run.no_match(config, test)),
            }
        )
        for qid in test:
            kind = "degraded" if qid.endswith(SUFFIX) else "sample"
            held_out[kind].append(run.evaluate("hybrid", config, {qid}))
    final = best_floor(run, best_weights(run, configs, judged), judged)
    return {
        "cv": {kind: mean_metrics(rows) for kind, rows in held_out.items()},
        "folds": chosen,
        "final": final,
        "final_no_match": asdict(run.no_match(final, judged)),
    }


def cached_subset(beir: BeirSet, cache_path: Path | None) -> BeirSet:
    """Only the documents whose every chunk has a vector in the e5 embedding cache."""
    from assistant.knowledge.index.chunking import chunk_document
    from assistant.knowledge.index.embedding_cache import EmbeddingCache

    if cache_path is None or not cache_path.is_file():
        raise SystemExit(f"no embedding cache at {cache_path}")
    cached = set(EmbeddingCache.load(cache_path).hashes())
    docs = [
        doc
        for doc in beir.docs
        if all(chunk.content_hash in cached for chunk in chunk_document(doc))
    ]
    logger.info("cached subset: %d of %d documents", len(docs), len(beir.docs))
    return BeirSet(docs, beir.queries, beir.qrels)


def report(run: EvalRun, base: RetrievalConfig) -> dict[str, Any]:
    sample = {qid for qid in run.cache.legs if not qid.endswith(SUFFIX)}
    degraded = {qid for qid in run.cache.legs if qid.endswith(SUFFIX)}
    rows: dict[str, dict[str, dict[str, float]]] = {}
    alone = replace(base, w_vector=1.0, w_bm25=1.0, w_exact=1.0, w_trigram=1.0)
    for mode in ("vector", "bm25", "fts", "trigram", "hybrid", "tsrank"):
        label = f"{mode} (current defaults)" if mode == "hybrid" else mode
        config = base if mode == "hybrid" else alone  # a leg alone needs a weight
        rows[label] = {
            "sample": run.evaluate(mode, config, sample),
            "degraded": run.evaluate(mode, config, degraded),
        }
    cv = cross_validate(run, base)
    rows["hybrid (5-fold CV, held-out)"] = cv["cv"]
    rows["hybrid (chosen on all)"] = {
        "sample": run.evaluate("hybrid", cv["final"], sample),
        "degraded": run.evaluate("hybrid", cv["final"], degraded),
    }
    return {"rows": rows, **cv}


def format_report(result: dict[str, Any], embedder: str, chunks: object) -> str:
    head = (
        f"{'retriever':<31}{'sample hit@10':>14}{'MRR@10':>8}{'degraded hit@10':>17}{'MRR@10':>8}"
    )
    lines = [head]
    for label, by_set in result["rows"].items():
        s, d = by_set["sample"], by_set["degraded"]
        lines.append(
            f"{label:<31}{s['hit@10']:>14.3f}{s['mrr@10']:>8.3f}"
            f"{d['hit@10']:>17.3f}{d['mrr@10']:>8.3f}"
        )
    final: RetrievalConfig = result["final"]
    lines += [
        "",
        f"embedder {embedder}; {chunks} chunks",
        f"chosen: fusion={final.fusion} w_vector={final.w_vector} w_bm25={final.w_bm25} "
        f"w_trigram={final.w_trigram} w_exact={final.w_exact} vector_floor={final.vector_floor} "
        f"no_match_threshold={final.no_match_threshold} "
        f"(answered kept {result['final_no_match']['tpr']:.0%}, "
        f"off-topic flagged {result['final_no_match']['tnr']:.0%})",
        "per fold: "
        + "; ".join(
            f"{f['fusion']} v{f['w_vector']} b{f['w_bm25']} t{f['w_trigram']} e{f['w_exact']} "
            f"floor {f['vector_floor']} "
            f"t{f['threshold']}"
            for f in result["folds"]
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument(
        "--cached-only",
        action="store_true",
        help="keep only documents whose chunks are all in the e5 embedding cache (a smaller, "
        "cheaper corpus; compare embedders on the same subset)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from assistant.db import connect, resolve_database_url
    from assistant.migrate import migrate
    from assistant.settings import AssistantSettings

    settings = AssistantSettings()
    d = args.eval_dir
    beir = with_degraded(load_beir(d / "corpus.jsonl", d / "queries.jsonl", d / "qrels.tsv"))
    if args.cached_only:
        beir = cached_subset(beir, settings.kb_embedding_cache)
    url = resolve_database_url(
        settings.database_url.get_secret_value() if settings.database_url else None,
        settings.kb_data_dir,
    )
    migrate(url)
    with connect(url, autocommit=True) as conn:
        run, store = prepare_run(conn, settings, beir)
        try:
            result = report(run, default_config(run.retriever.embedder))
        finally:
            store.drop()
    embedder = run.retriever.embedder.key if run.retriever.embedder else "none"
    print(format_report(result, embedder, run.index_report["chunks"]))


if __name__ == "__main__":
    main()
