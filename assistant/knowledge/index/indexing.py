"""Incremental indexing: documents → chunks → (only new/changed) embeddings → the store.

A run compares every chunk with what the index holds: a chunk whose text hash and
embedder are unchanged is skipped (no embedding call), a chunk whose metadata alone
changed (title, URL, category, position) is updated without re-embedding, chunks that
no longer exist (document deleted, section removed or edited) are removed. When the
active embedder changes (a new local fit on `full`, or EMBEDDING_BASE_URL set/unset),
every chunk is re-embedded into the new space and the new embedder becomes active in
the same transaction, so a query never sees two spaces. Embeddings are computed before
the write transaction: a failing endpoint leaves the index exactly as it was.

Cost: texts are embedded in batches (the e5 engine spreads a batch over every core),
identical texts once, and a vector from the embedding cache (`KB_EMBEDDING_CACHE`,
keyed by embedder key + content hash) is used instead of a live call when the keys
match. `on_progress(done, total)` is called after every batch, and a log line with the
rate and ETA at most every 10 seconds, so a long backfill can be followed.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np

from assistant.knowledge.embedders.base import Embedder
from assistant.knowledge.embedders.factory import embedder_for_indexing
from assistant.knowledge.index.chunking import Chunk, KbDocument, chunk_document
from assistant.knowledge.index.embedding_cache import EmbeddingCache, load_cache
from assistant.knowledge.index.store import IndexStoreError, KnowledgeStore, meta_hash
from assistant.settings import AssistantSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexReport:
    """What one indexing run did (the flow's artifact and the stage summary)."""

    documents: int
    deleted_documents: int
    invalid_documents: int
    chunks: int
    embedded: int
    from_cache: int
    skipped: int
    metadata_updated: int
    deleted: int
    embedder: str
    refitted: bool
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def chunk_documents(docs: Sequence[KbDocument]) -> tuple[list[Chunk], int]:
    """Chunks of all live documents, and how many documents were skipped as invalid."""
    chunks: list[Chunk] = []
    invalid = 0
    seen: set[str] = set()
    for doc in docs:
        if doc.is_deleted:
            continue
        if not doc.document_id or not doc.source or doc.document_id in seen:
            logger.warning("skipping invalid or duplicate document %r", doc.document_id)
            invalid += 1
            continue
        seen.add(doc.document_id)
        chunks.extend(chunk_document(doc))
    return chunks, invalid


def index_documents(
    store: KnowledgeStore,
    docs: Sequence[KbDocument],
    settings: AssistantSettings,
    *,
    full: bool = False,
    embedder: Embedder | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    batch_size: int = 64,
    progress: EmbeddingProgress | None = None,
    local_params: dict[str, object] | None = None,
) -> IndexReport:
    """Bring the store in line with `docs`; see the module docstring.

    `embedder` overrides the choice of `embedders.factory.embedder_for_indexing`;
    `local_params` changes the parameters of a new local fit (the benchmark's small model).
    """
    started = time.monotonic()
    chunks, invalid = chunk_documents(docs)
    states = store.chunk_states()
    if not chunks and states and not full:
        raise IndexStoreError(
            f"no live documents in the input but the index holds {len(states)} chunks; "
            "refusing to empty it (run with --full to force)"
        )
    refitted = False
    if embedder is None:
        texts = [(chunk.content_hash, chunk.text) for chunk in chunks]
        embedder, refitted = embedder_for_indexing(
            store, settings, texts, full=full, local_params=local_params
        )
    if not embedder.dim:
        embedder.record()  # one probe call fixes the remote model's dimension
    key = embedder.key
    to_embed: list[Chunk] = []
    meta_only: list[Chunk] = []
    for chunk in chunks:
        state = states.get(chunk.chunk_id)
        if state is None or state.content_hash != chunk.content_hash or state.embedder != key:
            to_embed.append(chunk)
        elif state.meta_hash != meta_hash(chunk):
            meta_only.append(chunk)
    current_ids = {chunk.chunk_id for chunk in chunks}
    stale = [chunk_id for chunk_id in states if chunk_id not in current_ids]
    cache = load_cache(settings.kb_embedding_cache, key) if to_embed else None
    if on_progress is None and progress is not None:
        on_progress = progress_callback(progress)
    vectors, from_cache = embed_chunks(embedder, to_embed, cache, on_progress, batch_size)
    with store.conn.transaction():
        if not store.has_embedder(embedder.name, embedder.version):
            store.save_embedder(embedder.record())
        store.write_chunks(to_embed, vectors, key)
        store.write_chunks(meta_only, None, None)
        deleted = store.delete_chunks(stale)
        store.refresh_stats()
        store.activate_embedder(embedder.name, embedder.version)
        store.ensure_vector_index(key, embedder.dim)
    report = IndexReport(
        documents=len({chunk.document_id for chunk in chunks}),
        deleted_documents=sum(1 for doc in docs if doc.is_deleted),
        invalid_documents=invalid,
        chunks=len(chunks),
        embedded=len(to_embed),
        from_cache=from_cache,
        skipped=len(chunks) - len(to_embed) - len(meta_only),
        metadata_updated=len(meta_only),
        deleted=deleted,
        embedder=key,
        refitted=refitted,
        seconds=round(time.monotonic() - started, 3),
    )
    logger.info(
        "indexed %d documents: %d chunks embedded (%d from the cache), %d skipped, %d deleted (%s)",
        report.documents,
        report.embedded,
        report.from_cache,
        report.skipped,
        report.deleted,
        key,
    )
    return report


def embed_chunks(
    embedder: Embedder,
    chunks: Sequence[Chunk],
    cache: EmbeddingCache | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    batch_size: int = 64,
) -> tuple[np.ndarray | None, int]:
    """Vectors for `chunks` (cache hits first, then live batches) and the cache-hit count."""
    if not chunks:
        return None, 0
    total = len(chunks)
    found: dict[str, np.ndarray] = {}
    if cache is not None:
        for chunk in chunks:
            vector = cache.get(chunk.content_hash)
            if vector is not None:
                found[chunk.content_hash] = vector
    hits = sum(1 for chunk in chunks if chunk.content_hash in found)
    todo: dict[str, str] = {}
    for chunk in chunks:
        if chunk.content_hash not in found:
            todo.setdefault(chunk.content_hash, chunk.text)
    progress = _Progress(total, on_progress)
    progress.update(hits)
    per_hash = Counter(chunk.content_hash for chunk in chunks if chunk.content_hash in todo)
    items = list(todo.items())
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        matrix = embedder.embed([text for _, text in batch])
        for (content_hash, _), vector in zip(batch, matrix, strict=True):
            found[content_hash] = vector
        progress.update(progress.done + sum(per_hash[h] for h, _ in batch))
    return np.vstack([found[chunk.content_hash] for chunk in chunks]).astype(np.float32), hits


class EmbeddingProgress(Protocol):
    """Told how many chunks will be embedded, then how many are done (a terminal bar)."""

    def expect(self, more: int) -> None: ...

    def advance(self, done: int) -> None: ...


def progress_callback(progress: EmbeddingProgress) -> Callable[[int, int], None]:
    """`on_progress(done, total)` for a terminal bar that counts in steps."""
    state = {"done": 0, "expected": False}

    def callback(done: int, total: int) -> None:
        if not state["expected"]:
            progress.expect(total)
            state["expected"] = True
        progress.advance(done - int(state["done"]))
        state["done"] = done

    return callback


class _Progress:
    """Calls `on_progress(done, total)` and logs rate + ETA at most every 10 s."""

    def __init__(self, total: int, callback: Callable[[int, int], None] | None) -> None:
        self.total = total
        self.callback = callback
        self.done = 0
        self.started = time.monotonic()
        self.logged = self.started

    def update(self, done: int) -> None:
        self.done = done
        if self.callback is not None:
            self.callback(done, self.total)
        now = time.monotonic()
        if now - self.logged >= 10 and done < self.total:
            rate = done / max(now - self.started, 1e-9)
            eta = (self.total - done) / rate if rate else float("inf")
            logger.info(
                "embedded %d/%d chunks, %.1f chunks/s, ETA %.0f s", done, self.total, rate, eta
            )
            self.logged = now
