"""Embeddings from an OpenAI-compatible `/embeddings` endpoint (`EMBEDDING_BASE_URL`).

Batches, retries 429/5xx/timeouts with the waits of the one retry policy
(`assistant/sources/http.py`: backoff + jitter, `Retry-After` honoured), never retries
other 4xx, checks that every vector has the same, expected dimension. The prefix
settings (`EMBEDDING_QUERY_PREFIX` / `EMBEDDING_PASSAGE_PREFIX`, or `EMBEDDING_INPUT_TYPE`)
change the vector space, so they are part of the version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from assistant.errors import ConfigError
from assistant.knowledge.embedders.base import EmbedderRecord, EmbeddingError, l2_normalised
from assistant.settings import AssistantSettings
from assistant.sources.http import RetryPolicy, server_delay

logger = logging.getLogger(__name__)


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
        self.policy = RetryPolicy(
            max_attempts=max_attempts,
            base_delay=backoff_seconds,
            max_delay=60.0,
            retry_after_cap=60.0,
            sleep=sleep,
        )
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
        return l2_normalised(np.vstack(parts))

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
                response = getattr(exc, "response", None)
                delay = server_delay(response, self.policy) if response is not None else None
                if delay is None:
                    delay = self.policy.backoff(attempt)
                logger.warning("embedding call failed (%s), retry %d in %.1fs", exc, attempt, delay)
                self.policy.sleep(delay)
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
