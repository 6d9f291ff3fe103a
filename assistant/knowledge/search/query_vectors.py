"""Query vectors kept per (embedder, text): a ticket is embedded once, not every night.

Why: the nightly `tune` stage re-searches up to 3000 labelled tickets and `replay` every
ticket the webhook missed; with an in-process neural embedder each search would run the
model again (≈ 0.1 s per ticket on this CPU, minutes a night). The retriever of the live
index stores a query's vector the first time it embeds it and reads it back afterwards.
Rows are keyed by a hash of the embedded text (no ticket text is stored) and the embedder
key, so a new model never reads another model's vectors. `prune` drops old rows.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence

import numpy as np
import psycopg

logger = logging.getLogger(__name__)

RETENTION_DAYS = 180  # longer than the newest-3000-tickets window tune reads at 50 a day


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class QueryVectorStore:
    """`kb.query_vectors` for one embedder; failures disable it, never the search."""

    def __init__(self, conn: psycopg.Connection, embedder_key: str) -> None:
        self.conn = conn
        self.embedder_key = embedder_key
        self.enabled = True

    def _failed(self, action: str, exc: psycopg.Error) -> None:
        # e.g. migrations not applied yet, or a read-only role: search goes on without it
        logger.warning("query vectors not %s (embedding live instead): %s", action, exc)
        self.enabled = False

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """text → stored vector, for the texts that have one."""
        if not self.enabled or not texts:
            return {}
        by_hash = {text_hash(text): text for text in texts}
        try:
            with self.conn.transaction():
                rows = self.conn.execute(
                    "select text_hash, embedding::real[] from kb.query_vectors"
                    " where embedder = %s and text_hash = any(%s)",
                    (self.embedder_key, list(by_hash)),
                ).fetchall()
        except psycopg.Error as exc:
            self._failed("read", exc)
            return {}
        return {by_hash[h]: np.asarray(vector, dtype=np.float32) for h, vector in rows}

    def put(self, vectors: Mapping[str, np.ndarray]) -> None:
        """Store new vectors (a text already stored keeps its first vector)."""
        if not self.enabled or not vectors:
            return
        rows = [
            (self.embedder_key, text_hash(text), np.asarray(vector, dtype=np.float32))
            for text, vector in vectors.items()
        ]
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.executemany(
                    "insert into kb.query_vectors (embedder, text_hash, embedding)"
                    " values (%s, %s, %s) on conflict do nothing",
                    rows,
                )
        except psycopg.Error as exc:
            self._failed("stored", exc)


def prune(conn: psycopg.Connection, days: int = RETENTION_DAYS) -> int:
    """Delete vectors older than `days` (and those of embedders no longer active)."""
    deleted = conn.execute(
        "delete from kb.query_vectors where created_at < now() - make_interval(days => %s)"
        " or embedder not in (select name || '@' || version from kb.embedder_models"
        " where is_active)",
        (days,),
    ).rowcount
    return max(deleted, 0)
