"""Fitting retrieval: the leg cache, the weight grid, the best configuration, the threshold.

One module for the three callers that fit: `kb eval retrieval` (beir.py, in-sample),
the cross-validated calibration (calibrate.py) and the nightly `tune` stage
(learning/tuning.py). Each query is searched once (`LegCache.collect`); a grid then
re-fuses the cached legs per configuration with one matrix product, ranks and scores
them with the bot's own scoring (`search/scoring.py`: `ranked_confidence` applies the
configuration's cosine floor), so a fitted threshold gates the score the bot computes.
The callers differ only in what they pass: their grid (`Grid`), what counts as a right
answer, and the metric they maximise.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from assistant.knowledge.evaluation.metrics import CUTOFF, OFF_TOPIC_QUERIES
from assistant.knowledge.search.config import RetrievalConfig
from assistant.knowledge.search.retrieval import Retriever
from assistant.knowledge.search.scoring import Legs, fused_scores, leg_matrix, ranked_confidence

Matrix = tuple[list[str], list[str], np.ndarray]


def source_of(document_id: str) -> str:
    """`confluence:123` → `confluence` (document ids are `<source>:<id>`)."""
    return document_id.split(":", 1)[0]


@dataclass
class LegCache:
    """Per-query leg scores, collected once, so every configuration re-fuses without a search.

    `legs` maps a query id to its legs, `off_topic` holds the legs of the off-topic probes
    (the negatives of the no-match threshold), `owners` maps a chunk to its document.
    """

    legs: dict[str, Legs]
    off_topic: list[Legs]
    owners: dict[str, str]
    _sources: dict[str, str] = field(default_factory=dict, repr=False)
    # (query id or probe number, legs kept, fusion, rrf_k) → its leg matrix
    _matrices: dict[tuple[str | int, tuple[str, ...], str, int], Matrix] = field(
        default_factory=dict, repr=False
    )

    @classmethod
    def collect(
        cls,
        retriever: Retriever,
        queries: Mapping[str, str],
        *,
        exclude: Mapping[str, str] | None = None,
    ) -> LegCache:
        """Search every query (and the probes) once; `exclude[qid]` drops that document's
        chunks from the query's legs (a labelled ticket must not find itself)."""
        owners = retriever.store.chunk_owners()
        texts = {qid: text for qid, text in queries.items() if text}
        retriever.prime([*texts.values(), *OFF_TOPIC_QUERIES])
        legs = {}
        for qid, text in texts.items():
            raw = retriever.legs(text)
            own = (exclude or {}).get(qid)
            if own is not None:
                raw = {
                    leg: {c: s for c, s in scores.items() if owners.get(c) != own}
                    for leg, scores in raw.items()
                }
            legs[qid] = raw
        return cls(legs, [retriever.legs(text) for text in OFF_TOPIC_QUERIES], owners)

    def _legs(self, query: str | int, only: tuple[str, ...] | None) -> Legs:
        legs = self.legs[query] if isinstance(query, str) else self.off_topic[query]
        return legs if only is None else {leg: s for leg, s in legs.items() if leg in only}

    def ranked(
        self, query: str | int, config: RetrievalConfig, only: tuple[str, ...] | None = None
    ) -> list[str]:
        """Chunk ids best first under `config` (ties by id, as `scoring.rank`); `query` is a
        query id or the number of an off-topic probe; `only` keeps just these legs."""
        legs = self._legs(query, only)
        key = (query, tuple(legs), config.fusion, config.rrf_k)
        if key not in self._matrices:
            self._matrices[key] = leg_matrix(legs, config.fusion, config.rrf_k)
        ids, names, matrix = self._matrices[key]
        order = np.argsort(-fused_scores(ids, names, matrix, config), kind="stable")
        return [ids[i] for i in order]

    def confidence(
        self,
        query: str | int,
        config: RetrievalConfig,
        ranked: Sequence[str] | None = None,
    ) -> float:
        """The bot's no-match confidence for a cached query (`scoring.ranked_confidence`)."""
        chunks = self.ranked(query, config) if ranked is None else ranked
        return ranked_confidence(self._legs(query, None), chunks, config)

    def off_topic_confidences(self, config: RetrievalConfig) -> list[float]:
        return [self.confidence(i, config) for i in range(len(self.off_topic))]

    def documents(
        self, chunk_ids: Iterable[str], sources: frozenset[str] | None = None, limit: int = CUTOFF
    ) -> list[str]:
        """Distinct documents (of `sources`, if given), best chunk first, the first `limit`.

        The bot lists pages and similar tickets separately (suggest.py), so `tune` ranks a
        used page only among pages and a referenced ticket only among tickets. The grid
        calls this for every query and configuration, hence the cached sources.
        """
        if len(self._sources) != len(self.owners):
            self._sources = {cid: source_of(doc) for cid, doc in self.owners.items()}
        found: dict[str, None] = {}
        for cid in chunk_ids:
            doc = self.owners.get(cid)
            if doc is None or doc in found:
                continue
            if sources is None or self._sources[cid] in sources:
                found[doc] = None
                if len(found) == limit:
                    break
        return list(found)


# --- the weight grid ------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    """The configurations a fit tries, in a fixed order (the first best one wins).

    Every combination of `fusions` (None: the base's) × the values of each field in
    `weights`; `remainder` = (field, fields) sets that field to 1 minus the sum of the
    others (combinations leaving it below zero are skipped). `proportional` drops weight
    vectors equal up to scale (fusion is scale-free) and the all-zero one.
    """

    weights: Mapping[str, Sequence[float]]
    fusions: Sequence[str] | None = None
    remainder: tuple[str, Sequence[str]] | None = None
    proportional: bool = False

    def configs(self, base: RetrievalConfig) -> list[RetrievalConfig]:
        names = list(self.weights)
        seen: set[tuple[object, ...]] = set()
        out = []
        for fusion, *values in itertools.product(
            self.fusions or (base.fusion,), *(self.weights[name] for name in names)
        ):
            chosen = dict(zip(names, values, strict=True))
            if self.remainder is not None:
                rest, parts = self.remainder
                chosen[rest] = round(1 - sum(chosen[part] for part in parts), 2)
                if chosen[rest] < 0:
                    continue
            if self.proportional:
                total = sum(values)
                if total == 0:
                    continue
                shape = (fusion, *(round(v / total, 3) for v in values))
                if shape in seen:
                    continue
                seen.add(shape)
            out.append(replace(base, fusion=fusion, **chosen))
        return out


def best_config(
    configs: Sequence[RetrievalConfig], score: Callable[[RetrievalConfig], tuple[float, ...]]
) -> RetrievalConfig:
    """The first configuration with the highest score (grid order breaks ties)."""
    return max(configs, key=score)


# --- the no-match threshold -----------------------------------------------------------


@dataclass(frozen=True)
class ThresholdFit:
    threshold: float
    tpr: float  # answered queries kept (confidence ≥ threshold)
    tnr: float  # unanswered queries and probes flagged (confidence < threshold)

    @property
    def balanced_accuracy(self) -> float:
        return (self.tpr + self.tnr) / 2


def _split(
    answered: Sequence[float], unanswered: Sequence[float], threshold: float
) -> tuple[float, float]:
    tpr = sum(c >= threshold for c in answered) / len(answered) if answered else 0.0
    tnr = sum(c < threshold for c in unanswered) / len(unanswered) if unanswered else 0.0
    return tpr, tnr


def rates(answered: Sequence[float], unanswered: Sequence[float], threshold: float) -> ThresholdFit:
    """How a threshold splits the two sides (an empty side scores 0)."""
    tpr, tnr = _split(answered, unanswered, threshold)
    return ThresholdFit(threshold, round(tpr, 4), round(tnr, 4))


def fit_threshold(
    answered: Sequence[float], unanswered: Sequence[float], fallback: float
) -> ThresholdFit:
    """The threshold with the best balanced accuracy between answered and unanswered
    confidences, placed midway between the chosen value and the highest unanswered one
    below it; `fallback` when a side is empty."""
    if not answered or not unanswered:
        return ThresholdFit(fallback, 0.0, 0.0)
    best_t, best_score = fallback, -1.0
    for candidate in sorted({*answered, *unanswered}):
        score = sum(_split(answered, unanswered, candidate)) / 2
        if score > best_score:
            best_t, best_score = candidate, score
    below = max([c for c in unanswered if c < best_t], default=0.0)
    return rates(answered, unanswered, round((best_t + below) / 2, 4))
