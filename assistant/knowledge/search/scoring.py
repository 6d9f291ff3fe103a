"""How a search is scored: fusion of the legs, and the confidence the no-match flag reads.

One scoring path for the bot, the evaluation and the nightly `tune`: `rank` orders the
fused candidates and `ranked_confidence` reads the best `CONFIDENCE_CHUNKS` of them with
the configuration's cosine floor, so a threshold fitted on these numbers gates the very
score the bot computes (`Retriever.search`). Fitting grids re-rank with `leg_matrix` +
`fused_scores` (one matrix product per configuration), which orders exactly as `fuse`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.errors import ConfigError
from assistant.knowledge.search.config import RetrievalConfig

Legs = dict[str, dict[str, float]]  # leg → {chunk_id: score on a 0..1 scale}
# The confidence reads the best chunks of the fused ranking, whatever the caller's k: the
# number the calibration and `tune` fitted the threshold on.
CONFIDENCE_CHUNKS = 8


def rank(legs: Legs, config: RetrievalConfig) -> list[tuple[str, float]]:
    """(chunk_id, fused score), best first, ties by id."""
    return sorted(fuse(legs, config).items(), key=lambda item: (-item[1], item[0]))


def ranked_confidence(legs: Legs, ranked: Sequence[str], config: RetrievalConfig) -> float:
    """The no-match confidence of a ranking (chunk ids best first) under `config`.

    `no_good_match` is `ranked_confidence(...) < config.no_match_threshold`.
    """
    return confidence(legs, ranked[:CONFIDENCE_CHUNKS], config.vector_floor)


def confidence(
    legs: Legs,
    chunk_ids: Sequence[str],
    vector_floor: float | None = None,
) -> float:
    """How well the returned chunks answer the query, comparable across queries.

    The best BM25 coverage among the hits, or an exact-token match: measured on the
    sample set, coverage separates real questions from off-topic ones, while cosine
    similarity of the local LSA embedder does not (short off-topic texts score as high
    as real ones). Without a lexical leg, the best cosine similarity is used.

    A semantic embedder (e5) does separate them by cosine, so with `vector_floor` set the
    best cosine, rescaled as (cos − floor) / (1 − floor), counts too: a paraphrase or a
    misspelt ticket that shares few words with its page is not flagged as unanswered.
    """
    if not chunk_ids:
        return 0.0
    cosine = max((legs.get("vector", {}).get(cid, 0.0) for cid in chunk_ids), default=0.0)
    if "bm25" not in legs:
        return cosine
    lexical = max((legs["bm25"].get(cid, 0.0) for cid in chunk_ids), default=0.0)
    exact = max((legs.get("exact", {}).get(cid, 0.0) for cid in chunk_ids), default=0.0)
    best = max(lexical, exact)
    if vector_floor is not None and "vector" in legs and vector_floor < 1.0:
        best = max(best, (cosine - vector_floor) / (1.0 - vector_floor))
    return best


def leg_weights(cfg: RetrievalConfig) -> dict[str, float]:
    return {
        "vector": cfg.w_vector,
        "bm25": cfg.w_bm25,
        "exact": cfg.w_exact,
        "trigram": cfg.w_trigram,
    }


def leg_matrix(
    legs: dict[str, dict[str, float]], fusion: str, rrf_k: int = 60
) -> tuple[list[str], list[str], np.ndarray]:
    """Candidates (sorted by id), leg names and each leg's unweighted share per candidate.

    `matrix @ weights` is the fused score of `fuse` (for `calibrated` up to one positive
    factor, which does not change the ranking), so a weight grid re-ranks a query with a
    matrix product instead of re-normalising its legs for every configuration.
    """
    ids = sorted({chunk_id for scores in legs.values() for chunk_id in scores})
    index = {chunk_id: i for i, chunk_id in enumerate(ids)}
    names = list(legs)
    matrix = np.zeros((len(ids), len(names)))
    for j, leg in enumerate(names):
        scores = legs[leg]
        if not scores:
            continue
        if fusion == "rrf":
            ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
            for rank, (chunk_id, _) in enumerate(ranked, start=1):
                matrix[index[chunk_id], j] = 1.0 / (rrf_k + rank)
        elif fusion == "minmax":
            low, high = min(scores.values()), max(scores.values())
            span = (high - low) or 1.0
            for chunk_id, score in scores.items():
                matrix[index[chunk_id], j] = (score - low) / span if high > low else 1.0
        elif fusion == "calibrated":
            for chunk_id, score in scores.items():
                matrix[index[chunk_id], j] = score
        else:
            raise ConfigError(f"unknown fusion {fusion!r}; use calibrated, minmax or rrf")
    return ids, names, matrix


def fused_scores(
    ids: list[str], names: list[str], matrix: np.ndarray, cfg: RetrievalConfig
) -> np.ndarray:
    weights = leg_weights(cfg)
    return matrix @ np.array([weights[leg] for leg in names], dtype=float)


def fuse(legs: dict[str, dict[str, float]], cfg: RetrievalConfig) -> dict[str, float]:
    """chunk_id → fused score, by `cfg.fusion`."""
    ids, names, matrix = leg_matrix(legs, cfg.fusion, cfg.rrf_k)
    values = fused_scores(ids, names, matrix, cfg)
    if cfg.fusion == "calibrated":  # normalised by the weights of the legs used
        weights = leg_weights(cfg)
        values = values / (sum(weights[leg] for leg in names if leg != "exact") or 1.0)
    return dict(zip(ids, values.tolist(), strict=True))
