"""The passage-vector cache and the indexer's cost controls (batches, cache, progress)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.db import connect
from assistant.knowledge.embedders.local import LocalEmbedder
from assistant.knowledge.index.embedding_cache import EmbeddingCache, load_cache
from assistant.knowledge.index.indexing import chunk_documents, index_documents
from assistant.knowledge.index.store import KnowledgeStore
from tests.knowledge.kb_helpers import beir_mini, offline_settings


def unit_vectors(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    matrix = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_round_trip_is_int8_close_and_small(tmp_path: Path) -> None:
    vectors = unit_vectors(200, dim=384)
    cache = EmbeddingCache("model@1", 384)
    cache.add([f"{i:064x}" for i in range(200)], vectors)
    path = tmp_path / "cache.npz"
    cache.save(path)
    loaded = EmbeddingCache.load(path)
    assert loaded.key == "model@1"
    assert len(loaded) == 200
    restored = np.vstack([loaded.get(f"{i:064x}") for i in range(200)])
    assert np.sum(restored * vectors, axis=1).min() > 0.999
    assert path.stat().st_size < 200 * 384 * 1.2  # ~1 byte per dimension


def test_wrong_key_or_broken_file_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "cache.npz"
    EmbeddingCache("model@1", 16, {"a" * 64: unit_vectors(1)[0]}).save(path)
    assert load_cache(path, "model@2") is None
    assert load_cache(path, "model@1") is not None
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a cache")
    assert load_cache(broken, "model@1") is None
    assert load_cache(tmp_path / "missing.npz", "model@1") is None


class Counting:
    """Wraps an embedder and records every batch it is asked to embed."""

    def __init__(self, inner: LocalEmbedder) -> None:
        self.inner = inner
        self.name, self.version, self.dim = inner.name, inner.version, inner.dim
        self.batches: list[int] = []

    @property
    def key(self) -> str:
        return self.inner.key

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.batches.append(len(texts))
        return self.inner.embed(texts)

    def embed_query(self, texts):  # type: ignore[no-untyped-def]
        return self.inner.embed_query(texts)

    def record(self):  # type: ignore[no-untyped-def]
        return self.inner.record()


@pytest.mark.db
def test_indexer_uses_the_cache_batches_and_reports_progress(
    database_url: str, tmp_path: Path
) -> None:
    docs = beir_mini().docs
    chunks, _ = chunk_documents(docs)
    local = LocalEmbedder.fit([(c.content_hash, c.text) for c in chunks])
    cached = chunks[: len(chunks) // 2]
    cache = EmbeddingCache(local.key, local.dim)
    cache.add([c.content_hash for c in cached], local.embed([c.text for c in cached]))
    path = tmp_path / "cache.npz"
    cache.save(path)
    settings = offline_settings(kb_embedding_cache=path)
    counting = Counting(local)
    progress: list[tuple[int, int]] = []
    unique_live = len({c.content_hash for c in chunks} - set(cache.hashes()))
    with connect(database_url, autocommit=True) as conn:
        store = KnowledgeStore.create_scratch(conn, "kb_cache_test")
        try:
            report = index_documents(
                store,
                docs,
                settings,
                embedder=counting,
                batch_size=4,
                on_progress=lambda done, total: progress.append((done, total)),
            )
            assert report.embedded == len(chunks)
            assert report.from_cache == sum(
                1 for c in chunks if c.content_hash in set(cache.hashes())
            )
            assert sum(counting.batches) == unique_live  # cached and duplicate texts: no call
            assert max(counting.batches) <= 4
            assert progress[0][0] == report.from_cache
            assert progress[-1] == (
                len(chunks),
                len(chunks),
            )
            assert [done for done, _ in progress] == sorted(done for done, _ in progress)
            # the cached vectors are the ones stored
            again = index_documents(store, docs, settings, embedder=counting)
            assert again.embedded == 0
            assert again.skipped == len(chunks)
        finally:
            store.drop()
