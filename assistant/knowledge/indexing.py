"""Incremental indexing: documents → chunks → (only new/changed) embeddings → the store.

A run compares every chunk with what the index holds: a chunk whose text hash and
embedder are unchanged is skipped (no embedding call), a chunk whose metadata alone
changed (title, URL, category, position) is updated without re-embedding, chunks that
no longer exist (document deleted, section removed or edited) are removed. When the
active embedder changes (a new local fit on `full`, or EMBEDDING_BASE_URL set/unset),
every chunk is re-embedded into the new space and the new embedder becomes active in
the same transaction, so a query never sees two spaces. Embeddings are computed before
the write transaction: a failing endpoint leaves the index exactly as it was.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from assistant.knowledge.chunking import Chunk, KbDocument, chunk_document
from assistant.knowledge.embeddings import LOCAL_NAME, Embedder, LocalEmbedder, remote_from_settings
from assistant.knowledge.store import IndexStoreError, KnowledgeStore, meta_hash
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


def choose_embedder(
    store: KnowledgeStore,
    settings: AssistantSettings,
    chunks: Sequence[Chunk],
    *,
    full: bool,
) -> tuple[Embedder, bool]:
    """The embedder this run writes with, and whether it was freshly fitted.

    Remote when EMBEDDING_BASE_URL is set. Otherwise the active local model, or a new
    fit on the current chunks when there is none, the active one is remote, or `full`
    asks for a refit (the version is a hash of the texts: an unchanged corpus refits
    to the same version and re-embeds nothing).
    """
    if settings.embedding_base_url:
        known = store.get_embedder(name=f"openai:{settings.embedding_model}")
        return remote_from_settings(settings, dim=known.dim if known else None), False
    active = store.get_embedder(active=True)
    if active is not None and active.kind == "local" and not full:
        return LocalEmbedder.from_record(active), False
    texts = [(chunk.content_hash, chunk.text) for chunk in chunks]
    if len(texts) < 2:
        raise IndexStoreError(
            "the local embedder needs at least 2 chunks to fit on; load documents first"
        )
    version = LocalEmbedder.version_for(texts, LocalEmbedderParams.current())
    stored = store.get_embedder(LOCAL_NAME, version)
    if stored is not None:
        return LocalEmbedder.from_record(stored), False
    return LocalEmbedder.fit(texts, LocalEmbedderParams.current()), True


class LocalEmbedderParams:
    """The parameters new local fits use (a hook for tests and the benchmark)."""

    overrides: dict[str, object] = {}  # noqa: RUF012 - deliberately process-wide

    @classmethod
    def current(cls) -> dict[str, object]:
        from assistant.knowledge.embeddings import DEFAULT_LOCAL_PARAMS

        return {**DEFAULT_LOCAL_PARAMS, **cls.overrides}


class EmbeddingProgress(Protocol):
    """Told how many chunks will be embedded, then how many are done (a terminal bar)."""

    def expect(self, more: int) -> None: ...

    def advance(self, done: int) -> None: ...


EMBED_SLICE = 256  # chunks per embed call when someone watches progress


def _embed(embedder: Embedder, texts: list[str], progress: EmbeddingProgress | None) -> Any:
    """All vectors at once, or slice by slice reporting progress (same vectors either way:
    both embedders map each text independently once fitted)."""
    if progress is None:
        return embedder.embed(texts)
    progress.expect(len(texts))
    parts = []
    for start in range(0, len(texts), EMBED_SLICE):
        parts.append(embedder.embed(texts[start : start + EMBED_SLICE]))
        progress.advance(len(parts[-1]))
    return np.vstack(parts)


def index_documents(
    store: KnowledgeStore,
    docs: Sequence[KbDocument],
    settings: AssistantSettings,
    *,
    full: bool = False,
    embedder: Embedder | None = None,
    progress: EmbeddingProgress | None = None,
) -> IndexReport:
    """Bring the store in line with `docs`; see the module docstring."""
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
        embedder, refitted = choose_embedder(store, settings, chunks, full=full)
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
    vectors = _embed(embedder, [chunk.text for chunk in to_embed], progress) if to_embed else None
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
        skipped=len(chunks) - len(to_embed) - len(meta_only),
        metadata_updated=len(meta_only),
        deleted=deleted,
        embedder=key,
        refitted=refitted,
        seconds=round(time.monotonic() - started, 3),
    )
    logger.info(
        "indexed %d documents: %d chunks embedded, %d skipped, %d deleted (%s)",
        report.documents,
        report.embedded,
        report.skipped,
        report.deleted,
        key,
    )
    return report
