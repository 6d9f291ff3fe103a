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
share among the best fused chunks — with a threshold calibrated against off-topic probes.
Fusion and the confidence live in `scoring.py`, the configuration in `config.py`.
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
from assistant.knowledge.search.config import RetrievalConfig, active_config, default_config
from assistant.knowledge.search.query_vectors import QueryVectorStore
from assistant.knowledge.search.scoring import Legs, rank, ranked_confidence
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
    def legs(self, query: str, *, source: str | None = None, category: str | None = None) -> Legs:
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
        ranked = rank(legs, self.config)
        top = ranked[:k]
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
        # the score the threshold was fitted on: the fused ranking's best chunks, not the k hits
        confidence = ranked_confidence(legs, [chunk_id for chunk_id, _ in ranked], self.config)
        return SearchResult(
            hits=hits,
            no_good_match=confidence < self.config.no_match_threshold,
            embedder=embedder_key,
            confidence=round(confidence, 6),
        )


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
