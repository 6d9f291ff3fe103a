"""Hybrid search over the knowledge index: vector kNN + BM25 + exact tokens + trigrams.

Each leg returns up to `candidates` chunks with a score on a 0..1 scale: cosine
similarity (vector), BM25 *coverage* — the score divided by its upper bound for this
query, i.e. how much of the query's idf mass a chunk matches (lexical), and the share
of the query's exact tokens (error codes, «field names», URLs) a chunk contains. The
trigram leg finds nothing itself: it re-scores the other legs' candidates by character
trigram similarity (pg_trgm), which survives typos and word forms that defeat stemmed
BM25 terms — on the degraded sample copy it was the largest gain (README table).

Fusion is weighted (`RetrievalConfig.fusion`): `minmax` (per-leg min-max over the
candidates, then a weighted sum — the default, picked on the sample evaluation set),
`calibrated` (weighted sum of the absolute scores) or weighted `rrf`. Plain RRF with a
weak leg drags results down, so the weights matter; `kb eval retrieval` reports the best
ones for a set. `no_good_match` compares a confidence — the best BM25 coverage or exact
share among the returned hits — with a threshold calibrated against off-topic probes.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
import psycopg

from assistant.errors import ConfigError
from assistant.knowledge.embedders.base import Embedder, EmbeddingError
from assistant.knowledge.embedders.factory import embedder_for_record
from assistant.knowledge.index.store import KnowledgeStore
from assistant.knowledge.search.query_vectors import QueryVectorStore
from assistant.knowledge.text import exact_tokens, terms
from assistant.settings import AssistantSettings

logger = logging.getLogger(__name__)
QUERY_VECTOR_CACHE = 32
# The vector leg embeds at most this much of a query (cut at a word boundary). A ticket
# that is a long e-mail thread repeats its quoted history; a neural embedder's cost grows
# with the text (e5: ~1.5 ms per token here, and past 512 tokens it averages windows, which
# blurs the question). 1500 characters of Russian are ≈ 400 tokens: the subject and the
# customer's own first message. The lexical legs always read the whole text.
QUERY_VECTOR_CHARS = 1500

SNIPPET_CHARS = 240
LEGS = ("vector", "bm25", "exact", "trigram")


@dataclass(frozen=True)
class RetrievalConfig:
    """Legs, fusion weights and the no-match threshold (`default_config`: the calibrated ones)."""

    legs: tuple[str, ...] = ("vector", "bm25", "exact")
    fusion: str = "minmax"  # minmax | calibrated | rrf
    w_vector: float = 0.3
    w_bm25: float = 0.7
    w_exact: float = 0.1
    w_trigram: float = 0.0
    rrf_k: int = 60
    candidates: int = 50
    bm25_max_df: float = 0.3  # skip query terms found in more than this share of chunks
    no_match_threshold: float = 0.089
    # With a semantic vector leg, a cosine above this floor also counts as evidence of an
    # answer (rescaled to 0..1); None: lexical evidence only (see `confidence`).
    vector_floor: float | None = None
    ef_search: int = 100
    # Legs whose weights the nightly `tune` stage may change (None: all of `legs`).
    tuned_legs: tuple[str, ...] | None = None


# Chosen for the e5 embedder by `python -m assistant.knowledge.evaluation.calibrate` (5-fold
# CV over the sample queries and their degraded copy; README "Knowledge index and retrieval"). Every
# fold chose min-max fusion with vector 0.3, BM25 0.3, trigram 0.4, no exact-token weight
# (its candidates are still re-scored by the trigram leg) and a 0.82 cosine floor (one
# fold: 0.85). The sample's paraphrases share many words with their pages, which favours
# the lexical legs; the `tune` stage re-fits these weights on the organization's own
# labelled tickets.
_CALIBRATED: dict[str, object] = {  # what both calibrations agreed on
    "legs": LEGS,
    "tuned_legs": ("vector", "bm25", "trigram"),
    "fusion": "minmax",
    "w_exact": 0.0,
}
E5_DEFAULTS: dict[str, object] = {
    **_CALIBRATED,
    "w_vector": 0.3,
    "w_bm25": 0.3,
    "w_trigram": 0.4,
    "vector_floor": 0.82,
    "no_match_threshold": 0.0947,
}


# The same calibration for the TF-IDF/SVD embedder (`KB_EMBEDDER=tfidf`): all five folds
# chose min-max with vector 0.2, BM25 0.4, trigram 0.4 and no cosine floor (its cosine does
# not tell answered from off-topic).
TFIDF_DEFAULTS: dict[str, object] = {
    **_CALIBRATED,
    "w_vector": 0.2,
    "w_bm25": 0.4,
    "w_trigram": 0.4,
    "no_match_threshold": 0.0742,
}


def default_config(embedder: object) -> RetrievalConfig:
    """The calibrated defaults for this embedder's kind: e5's, else the TF-IDF/SVD ones."""
    if getattr(embedder, "kind", None) == "e5":
        return RetrievalConfig(**E5_DEFAULTS)  # type: ignore[arg-type]
    return RetrievalConfig(**TFIDF_DEFAULTS)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SearchHit:
    chunk_id: str
    document_id: str
    source: str
    title: str
    url: str
    snippet: str
    text: str
    category_code: str | None
    score: float
    leg_scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchResult:
    hits: list[SearchHit]
    no_good_match: bool
    embedder: str  # "name@version", or "none" when the index has no vectors yet
    confidence: float = 0.0


class Retriever:
    """Searches one schema's index with the embedder that built it."""

    def __init__(
        self,
        store: KnowledgeStore,
        embedder: Embedder | None,
        config: RetrievalConfig | None = None,
        vector_store: QueryVectorStore | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config or RetrievalConfig()
        # Vectors of queries embedded before (the live index only; see query_vectors.py).
        self.vector_store = vector_store
        # The bot searches one ticket up to three times (combined, then per missing source):
        # embed its text once. Bounded, newest last.
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        # Vectors embedded ahead in batches by `prime` (replay, evaluation, tuning), and
        # the batches still being embedded in the background.
        self._primed: dict[str, np.ndarray] = {}
        self._pending: dict[str, tuple[list[str], Future[np.ndarray]]] = {}

    def prime(
        self, queries: Sequence[str], batch_size: int = 32, *, background: bool = False
    ) -> int:
        """Embed the queries about to be searched in batches; returns how many it covers.

        One engine call per batch spreads the texts over every core, where one call per
        query leaves cores idle (e5 here: several times the throughput). Stored vectors
        (`kb.query_vectors`) are read instead of embedded. With `background`, batches are
        embedded in the worker thread while the caller already searches the first queries
        (a search waits only for its own batch): replay overlaps the model with Postgres.
        Replaces what was primed before, so memory stays bounded by the caller's batch.
        """
        if self.embedder is None or "vector" not in self.config.legs:
            return 0
        texts = list(dict.fromkeys(vector_text(q) for q in queries if q.strip()))
        todo = [text for text in texts if text not in self._query_vectors]
        self._primed = self.vector_store.get(todo) if self.vector_store else {}
        self._pending = {}
        todo = [text for text in todo if text not in self._primed]
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            future = _embedding_pool().submit(self.embedder.embed_query, batch)
            for text in batch:
                self._pending[text] = (batch, future)
            if not background:
                self._collect(batch, future)
        return len(self._primed) + len(self._pending)

    def _collect(self, batch: list[str], future: Future[np.ndarray]) -> None:
        """Take one primed batch's vectors (waiting for it) and store them."""
        for text in batch:
            self._pending.pop(text, None)
        try:
            vectors = future.result()
        except EmbeddingError as exc:  # searched one by one later, with the usual fallback
            logger.warning("could not embed queries ahead: %s", exc)
            return
        fresh = dict(zip(batch, vectors, strict=True))
        if self.vector_store:
            self.vector_store.put(fresh)
        self._primed.update(fresh)

    def _known_vector(self, text: str) -> np.ndarray | None:
        """A vector for `text` (already `vector_text`) without running the model, if any."""
        vector = self._query_vectors.get(text)
        if vector is not None:
            self._query_vectors.move_to_end(text)
            return vector
        if text in self._pending:
            self._collect(*self._pending[text])
        vector = self._primed.get(text)
        if vector is None and self.vector_store:
            vector = self.vector_store.get([text]).get(text)
        if vector is not None:
            self._remember(text, vector)
        return vector

    def _remember(self, text: str, vector: np.ndarray, *, fresh: bool = False) -> None:
        self._query_vectors[text] = vector
        if len(self._query_vectors) > QUERY_VECTOR_CACHE:
            self._query_vectors.popitem(last=False)
        if fresh and self.vector_store:
            self.vector_store.put({text: vector})

    def _vector_later(self, text: str) -> Callable[[], np.ndarray]:
        """The vector of `text` (already `vector_text`): known now, or being embedded.

        A new text is embedded in the worker thread (the e5 engine releases the GIL), so
        the caller can run the lexical legs in Postgres meanwhile and ask for it after.
        """
        known = self._known_vector(text)
        if known is not None:
            return lambda: known
        embedder = self.embedder
        if embedder is None:
            raise ConfigError("no embedder: the vector leg is off")
        future = _embedding_pool().submit(embedder.embed_query, [text])

        def result() -> np.ndarray:
            vector = future.result()[0]
            self._remember(text, vector, fresh=True)
            return vector

        return result

    def _query_vector(self, query: str) -> np.ndarray:
        if self.embedder is None:
            raise ConfigError("no embedder: the vector leg is off")
        return self._vector_later(vector_text(query))()

    @classmethod
    def open(
        cls,
        conn: psycopg.Connection,
        settings: AssistantSettings,
        *,
        schema: str = "kb",
        config: RetrievalConfig | None = None,
    ) -> Retriever:
        """Load the active embedder (fits nothing). No index yet → lexical search only.

        Sets `hnsw.ef_search` and `hnsw.iterative_scan` for this session so filtered
        kNN queries (source/category) still return enough rows.
        """
        store = KnowledgeStore(conn, schema)
        record = store.get_embedder(active=True)
        embedder: Embedder | None = None
        if record is not None:
            try:
                embedder = embedder_for_record(record, settings, for_queries=True)
            except ConfigError as exc:
                logger.warning("vector leg disabled: %s", exc)
        else:
            logger.warning("the index has no active embedder yet; lexical search only")
        if config is None:
            config = default_config(embedder)
            if schema == "kb":  # the configuration the `tune` stage activated, over the defaults
                from assistant.knowledge.learning.tuning import (
                    active_config,  # (imports this module)
                )

                config, _ = active_config(conn, config)
        conn.execute("select set_config('hnsw.ef_search', %s, false)", (str(config.ef_search),))
        conn.execute("select set_config('hnsw.iterative_scan', 'relaxed_order', false)")
        vectors = QueryVectorStore(conn, embedder.key) if embedder and schema == "kb" else None
        return cls(store, embedder, config, vectors)

    def with_config(self, **changes: object) -> Retriever:
        return Retriever(
            self.store, self.embedder, replace(self.config, **changes), self.vector_store
        )

    # -- search -------------------------------------------------------------------------
    def legs(
        self, query: str, *, source: str | None = None, category: str | None = None
    ) -> dict[str, dict[str, float]]:
        """Raw per-leg candidates: leg → {chunk_id: score on a 0..1 scale}."""
        cfg = self.config
        out: dict[str, dict[str, float]] = {}
        wants_vector = "vector" in cfg.legs and self.embedder is not None
        # the query is embedded while Postgres runs the lexical legs below
        vector_later = self._vector_later(vector_text(query)) if wants_vector else None
        if "bm25" in cfg.legs:
            bm25 = self.store.bm25_search(
                terms(query),
                limit=cfg.candidates,
                source=source,
                category=category,
                max_df_ratio=cfg.bm25_max_df,
            )
            out["bm25"] = {chunk_id: coverage for chunk_id, _, coverage in bm25}
        if "exact" in cfg.legs:
            tokens = exact_tokens(query)
            out["exact"] = dict(
                self.store.exact_search(
                    tokens, limit=cfg.candidates, source=source, category=category
                )
            )
        if vector_later is not None and self.embedder is not None:
            try:
                vector = vector_later()
                rows = self.store.vector_search(
                    self.embedder.key,
                    self.embedder.dim,
                    vector,
                    limit=cfg.candidates,
                    source=source,
                    category=category,
                )
                out = {"vector": {chunk_id: max(0.0, score) for chunk_id, score in rows}, **out}
            except EmbeddingError as exc:
                logger.warning("vector leg failed, continuing lexically: %s", exc)
        if "trigram" in cfg.legs:  # re-scores what the other legs found (see the store)
            candidates = sorted({chunk_id for scores in out.values() for chunk_id in scores})
            out["trigram"] = dict(self.store.trigram_scores(vector_text(query), candidates))
        return out

    def search(
        self,
        query: str,
        *,
        k: int = 8,
        source: str | None = None,
        category: str | None = None,
    ) -> SearchResult:
        """The top `k` chunks for `query`, fused across legs, with a no-match flag."""
        embedder_key = self.embedder.key if self.embedder else "none"
        if not query.strip():
            return SearchResult([], True, embedder_key)
        legs = self.legs(query, source=source, category=category)
        fused = fuse(legs, self.config)
        top = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
        rows = self.store.fetch([chunk_id for chunk_id, _ in top])
        query_terms = set(terms(query))
        hits = []
        for chunk_id, score in top:
            row = rows.get(chunk_id)
            if row is None:  # deleted between the legs and the fetch
                continue
            hits.append(
                SearchHit(
                    chunk_id=chunk_id,
                    document_id=row["document_id"],
                    source=row["source"],
                    title=row["title"],
                    url=row["url"],
                    snippet=make_snippet(row["text"], query_terms),
                    text=row["text"],
                    category_code=row["category_code"],
                    score=round(score, 6),
                    leg_scores={
                        leg: round(scores[chunk_id], 6)
                        for leg, scores in legs.items()
                        if chunk_id in scores
                    },
                )
            )
        confidence = self.confidence(legs, [hit.chunk_id for hit in hits])
        return SearchResult(
            hits=hits,
            no_good_match=confidence < self.config.no_match_threshold,
            embedder=embedder_key,
            confidence=round(confidence, 6),
        )

    def confidence(self, legs: dict[str, dict[str, float]], chunk_ids: list[str]) -> float:
        return confidence(legs, chunk_ids, self.config.vector_floor)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _embedding_pool() -> ThreadPoolExecutor:
    """One worker thread per process for query embeddings (the engine is used serially)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-query-embed")
        return _pool


def vector_text(query: str, limit: int = QUERY_VECTOR_CHARS) -> str:
    """The part of a query the vector leg embeds: ≤ `limit` characters, whole words."""
    if len(query) <= limit:
        return query
    cut = query[:limit]
    space = cut.rfind(" ", limit // 2)
    return cut[:space] if space > 0 else cut


def confidence(
    legs: dict[str, dict[str, float]],
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


_SENTENCE = re.compile(r"(?<=[.!?…])\s+|\n+")


def make_snippet(text: str, query_terms: set[str], limit: int = SNIPPET_CHARS) -> str:
    """The sentence that shares most stems with the query, plus what follows, ≤ `limit`."""
    body = text.split("\n\n", 1)[1] if "\n\n" in text else text
    sentences = [s.strip() for s in _SENTENCE.split(body) if s and s.strip(" `>|-")]
    if not sentences:
        return body[:limit]
    scores = [len(query_terms.intersection(terms(sentence))) for sentence in sentences]
    best = max(range(len(sentences)), key=lambda i: (scores[i], -i))
    snippet = sentences[best]
    for sentence in sentences[best + 1 :]:
        if len(snippet) + len(sentence) + 1 > limit:
            break
        snippet = f"{snippet} {sentence}"
    return snippet if len(snippet) <= limit else snippet[: limit - 1].rstrip() + "…"
