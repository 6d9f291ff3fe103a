"""The local embedder (`KB_EMBEDDER=tfidf`, and the fallback when e5 cannot load).

TF-IDF over stemmed words + character n-grams (char_wb 2-5, robust to Russian inflection),
reduced by TruncatedSVD (LSA) and fitted on the corpus itself. It is persisted as a joblib
blob in `kb.embedder_models` with `version` = hash of the parameters and the fitted texts,
so the same corpus always gives the same version and a query embeds into the very space
the chunks were embedded in.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from assistant.knowledge.embedders.base import EmbedderRecord, EmbeddingError, l2_normalised
from assistant.knowledge.text import normalize, terms

logger = logging.getLogger(__name__)

LOCAL_NAME = "local-tfidf-svd"

DEFAULT_LOCAL_PARAMS: dict[str, Any] = {
    "n_components": 384,
    "word_max_features": 20000,
    "char_max_features": 50000,
    "char_ngram_range": [2, 5],
    "char_weight": 1.0,
    "word_weight": 1.0,
    "max_fit_texts": 20000,
    "seed": 0,
}


class LocalEmbedder:
    """TF-IDF (stemmed words + char_wb n-grams) → TruncatedSVD → L2, fitted on the corpus."""

    kind = "local"

    def __init__(self, models: Any, params: dict[str, Any], version: str, dim: int) -> None:
        self._word, self._char, self._svd = models
        # Project with a float32 (features × dim) matrix ourselves: TruncatedSVD.transform
        # would upcast the whole components matrix to float64 on every call (≈40 ms/query).
        self._projection = np.ascontiguousarray(self._svd.components_.T, dtype=np.float32)
        self.params = params
        self.name = LOCAL_NAME
        self.version = version
        self.dim = dim

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    @staticmethod
    def version_for(texts: Sequence[tuple[str, str]], params: dict[str, Any]) -> str:
        """Hash of the parameters, the sklearn version and the fitted texts' hashes."""
        import sklearn

        digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
        digest.update(sklearn.__version__.encode())
        for content_hash in sorted(h for h, _ in texts):
            digest.update(content_hash.encode())
        return digest.hexdigest()[:16]

    @classmethod
    def fit(
        cls, texts: Sequence[tuple[str, str]], params: dict[str, Any] | None = None
    ) -> LocalEmbedder:
        """Fit on (content_hash, text) pairs; a large corpus is sampled by hash order."""
        from scipy import sparse
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        params = {**DEFAULT_LOCAL_PARAMS, **(params or {})}
        if len(texts) < 2:
            raise EmbeddingError("the local embedder needs at least 2 chunks to fit on")
        sample = sorted(texts)[: params["max_fit_texts"]]
        corpus = [text for _, text in sample]
        word = TfidfVectorizer(
            analyzer=terms, sublinear_tf=True, max_features=params["word_max_features"]
        )
        char = TfidfVectorizer(
            analyzer="char_wb",
            preprocessor=normalize,
            ngram_range=tuple(params["char_ngram_range"]),
            sublinear_tf=True,
            max_features=params["char_max_features"],
            dtype=np.float32,
        )
        matrix = sparse.hstack(
            [
                word.fit_transform(corpus) * params["word_weight"],
                char.fit_transform(corpus) * params["char_weight"],
            ]
        ).tocsr()
        dim = max(1, min(params["n_components"], matrix.shape[0] - 1, matrix.shape[1] - 1))
        svd = TruncatedSVD(n_components=dim, random_state=params["seed"], n_iter=7)
        svd.fit(matrix)
        svd.components_ = svd.components_.astype(np.float32)
        version = cls.version_for(texts, params)
        logger.info("fitted local embedder %s on %d texts, dim %d", version, len(corpus), dim)
        return cls((word, char, svd), params, version, dim)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        from scipy import sparse

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        matrix = sparse.hstack(
            [
                self._word.transform(texts) * self.params["word_weight"],
                self._char.transform(texts) * self.params["char_weight"],
            ],
            format="csr",
            dtype=np.float32,
        )
        return l2_normalised(np.asarray(matrix @ self._projection))

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        """Symmetric model: a query is embedded like a passage."""
        return self.embed(texts)

    def record(self) -> EmbedderRecord:
        import joblib

        buffer = io.BytesIO()
        joblib.dump((self._word, self._char, self._svd), buffer, compress=3)
        return EmbedderRecord(
            self.name, self.version, "local", self.dim, self.params, buffer.getvalue()
        )

    @classmethod
    def from_record(cls, record: EmbedderRecord) -> LocalEmbedder:
        """Load a persisted model (our own blob from our own database)."""
        import joblib

        if record.artifact is None:
            raise EmbeddingError(f"embedder {record.key} has no stored model")
        models = joblib.load(io.BytesIO(record.artifact))
        return cls(models, record.params, record.version, record.dim)
