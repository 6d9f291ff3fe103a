"""A small on-disk cache of passage embeddings keyed by (embedder key, content hash).

Why: the neural embedder costs seconds per chunk on a busy 2-core machine, and the sample
knowledge base has thousands of chunks. The sample generator ships the sample chunks'
vectors (`sample_data/gen/embedding_cache.py`) so `kb demo` and `kb eval retrieval` on the
sample set do not spend many minutes re-computing them; the indexer takes a vector from
the cache only when the embedder key matches exactly, so a changed model or package
version silently bypasses it. Queries and new tickets are always embedded live.

Vectors are stored as int8 with one float32 scale per row (max |x| / 127): 384-d e5
vectors take ~390 bytes each, the cosine error is < 0.001, and the file stays ~1 MB per
2,500 chunks. The format is a NumPy `.npz`: `key` (str), `hashes` (S64), `vectors`
(int8, n × dim), `scales` (float32, n).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


class EmbeddingCache:
    """content hash → L2-normalised float32 vector, for one embedder key."""

    def __init__(self, key: str, dim: int, vectors: dict[str, np.ndarray] | None = None) -> None:
        self.key = key
        self.dim = dim
        self._vectors: dict[str, np.ndarray] = dict(vectors or {})

    def __len__(self) -> int:
        return len(self._vectors)

    def __contains__(self, content_hash: object) -> bool:
        return content_hash in self._vectors

    def get(self, content_hash: str) -> np.ndarray | None:
        return self._vectors.get(content_hash)

    def add(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        for content_hash, vector in zip(hashes, vectors, strict=True):
            self._vectors[content_hash] = np.asarray(vector, dtype=np.float32)

    def hashes(self) -> Iterable[str]:
        return self._vectors.keys()

    @classmethod
    def load(cls, path: Path) -> EmbeddingCache:
        """Read a cache file; raises OSError/ValueError/KeyError on a broken file."""
        with np.load(path, allow_pickle=False) as data:
            key = str(data["key"])
            hashes = [h.decode("ascii") for h in data["hashes"]]
            quantised = data["vectors"].astype(np.float32)
            scales = data["scales"].astype(np.float32)
        vectors = quantised * scales[:, None]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        vectors = vectors / norms
        return cls(key, vectors.shape[1], dict(zip(hashes, vectors, strict=True)))

    def save(self, path: Path) -> None:
        """Write atomically (tmp file + rename), rows sorted by hash so reruns are identical."""
        hashes = sorted(self._vectors)
        matrix = (
            np.vstack([self._vectors[h] for h in hashes])
            if hashes
            else np.zeros((0, self.dim), dtype=np.float32)
        )
        scales = np.abs(matrix).max(axis=1) / 127.0 if hashes else np.zeros(0, np.float32)
        scales[scales == 0] = 1.0
        quantised = np.round(matrix / scales[:, None]).astype(np.int8)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(
            tmp,
            key=np.array(self.key),
            hashes=np.array([h.encode("ascii") for h in hashes], dtype="S64"),
            vectors=quantised,
            scales=scales.astype(np.float32),
        )
        os.replace(tmp, path)


def load_cache(path: Path | None, key: str) -> EmbeddingCache | None:
    """The cache at `path` if it exists and was made by embedder `key`, else None (logged)."""
    if path is None or not path.is_file():
        return None
    try:
        cache = EmbeddingCache.load(path)
    except (OSError, ValueError, KeyError) as exc:
        logger.warning("ignoring unreadable embedding cache %s: %s", path, exc)
        return None
    if cache.key != key:
        logger.info("embedding cache %s is for %s, not %s; not used", path, cache.key, key)
        return None
    return cache
