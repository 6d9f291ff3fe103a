"""The retrieval configuration: its fields, the calibrated defaults, the stored versions.

`RetrievalConfig` is what a search runs with: the legs, the fusion and its weights, the
no-match threshold and the cosine floor of the confidence (`scoring.confidence`). Where
it comes from, in one place:

* `default_config(embedder)` — the defaults calibrated for the embedder's kind
  (`python -m assistant.knowledge.evaluation.calibrate`);
* `active_config` — the version the nightly `tune` stage activated, laid over them (the
  bot's retriever, `Retriever.open`);
* `stored_config` — any stored version by name, laid over the same defaults, so
  `kb eval retrieval --config VERSION` evaluates exactly what the bot would run.

This module owns `kb.retrieval_configs` (migrations 0070, 0095): a stored version holds
only the fitted fields (`fitted_fields`), everything else comes from the defaults.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from assistant.errors import KbError
from assistant.knowledge.index.store import KnowledgeStore

logger = logging.getLogger(__name__)

LEGS = ("vector", "bm25", "exact", "trigram")
NO_EMBEDDER = "none"  # the embedder key of an index without vectors (lexical search only)
_MISMATCH_LOGGED: set[tuple[str, str]] = set()


class UnknownConfig(KbError):
    """`kb eval retrieval --config VERSION` names no stored configuration."""


@dataclass(frozen=True)
class RetrievalConfig:
    """Legs, fusion weights and the no-match threshold (`default_config`: the calibrated ones)."""

    legs: tuple[str, ...] = ("vector", "bm25", "exact")
    fusion: str = "minmax"  # minmax | calibrated | rrf
    w_vector: float = 0.3
    w_bm25: float = 0.7
    w_exact: float = 0.1
    w_trigram: float = 0.0
    rrf_k: int = 60
    candidates: int = 50
    bm25_max_df: float = 0.3  # skip query terms found in more than this share of chunks
    no_match_threshold: float = 0.089
    # With a semantic vector leg, a cosine above this floor also counts as evidence of an
    # answer (rescaled to 0..1); None: lexical evidence only (see `confidence`).
    vector_floor: float | None = None
    ef_search: int = 100
    # Legs whose weights the nightly `tune` stage may change (None: all of `legs`).
    tuned_legs: tuple[str, ...] | None = None


# Chosen for the e5 embedder by `python -m assistant.knowledge.evaluation.calibrate` (5-fold
# CV over the sample queries and their degraded copy; README "Knowledge index and retrieval"). Every
# fold chose min-max fusion with vector 0.3, BM25 0.3, trigram 0.4, no exact-token weight
# (its candidates are still re-scored by the trigram leg) and a 0.82 cosine floor (one
# fold: 0.85). The sample's paraphrases share many words with their pages, which favours
# the lexical legs; the `tune` stage re-fits these weights on the organization's own
# labelled tickets.
_CALIBRATED: dict[str, object] = {  # what both calibrations agreed on
    "legs": LEGS,
    "tuned_legs": ("vector", "bm25", "trigram"),
    "fusion": "minmax",
    "w_exact": 0.0,
}
E5_DEFAULTS: dict[str, object] = {
    **_CALIBRATED,
    "w_vector": 0.3,
    "w_bm25": 0.3,
    "w_trigram": 0.4,
    "vector_floor": 0.82,
    "no_match_threshold": 0.0947,
}


# The same calibration for the TF-IDF/SVD embedder (`KB_EMBEDDER=tfidf`): all five folds
# chose min-max with vector 0.2, BM25 0.4, trigram 0.4 and no cosine floor (its cosine does
# not tell answered from off-topic).
TFIDF_DEFAULTS: dict[str, object] = {
    **_CALIBRATED,
    "w_vector": 0.2,
    "w_bm25": 0.4,
    "w_trigram": 0.4,
    "no_match_threshold": 0.0742,
}


def default_config(embedder: object) -> RetrievalConfig:
    """The calibrated defaults for this embedder's kind: e5's, else the TF-IDF/SVD ones."""
    if getattr(embedder, "kind", None) == "e5":
        return RetrievalConfig(**E5_DEFAULTS)  # type: ignore[arg-type]
    return RetrievalConfig(**TFIDF_DEFAULTS)  # type: ignore[arg-type]


def fitted_fields(config: RetrievalConfig) -> list[str]:
    """The fields a fit may change: one weight per tunable leg, and the threshold.

    Tunable legs are `config.tuned_legs` when set (a leg the calibrated defaults switched
    off stays off: every extra weight multiplies the grid by five), else all its legs.
    """
    names = {f.name for f in fields(config)}
    legs = config.tuned_legs if config.tuned_legs is not None else config.legs
    return [f"w_{leg}" for leg in legs if f"w_{leg}" in names] + ["no_match_threshold"]


def apply_params(base: RetrievalConfig, params: dict[str, Any]) -> RetrievalConfig:
    """`base` with the stored fields it still has (a renamed field is ignored, not fatal)."""
    names = {f.name for f in fields(base)}
    return replace(base, **{k: v for k, v in params.items() if k in names})


def _table_exists(conn: psycopg.Connection) -> bool:
    row = conn.execute("select to_regclass('kb.retrieval_configs') is not null").fetchone()
    return bool(row and row[0])


def active_config(
    conn: psycopg.Connection, base: RetrievalConfig | None = None
) -> tuple[RetrievalConfig, str | None]:
    """The active stored configuration over `base` (defaults), and its version (or None).

    A configuration fitted on another embedder's vectors than the index's active one is
    ignored (one log line): its weights and threshold were chosen for other scores.
    One stored before the embedder was recorded (`embedder_key` null) still applies.
    """
    base = base or RetrievalConfig()
    if not _table_exists(conn):
        return base, None
    row = conn.execute(
        "select version, params, embedder_key from kb.retrieval_configs where is_active"
    ).fetchone()
    if row is None:
        return base, None
    version, params, fitted_for = row
    if fitted_for is not None:
        current = index_embedder_key(conn)
        if fitted_for != current:
            if (version, current) not in _MISMATCH_LOGGED:  # once per process, not per ticket
                _MISMATCH_LOGGED.add((version, current))
                logger.warning(
                    "retrieval config %s was tuned for embedder %s, the index uses %s; "
                    "using the defaults until `tune` fits one for it",
                    version,
                    fitted_for,
                    current,
                )
            return base, None
    return apply_params(base, params), version


def index_embedder_key(conn: psycopg.Connection) -> str:
    """The embedder the `kb` index searches with, as a retrieval config records it."""
    return KnowledgeStore(conn).active_embedder_key() or NO_EMBEDDER


def stored_params(conn: psycopg.Connection, version: str) -> dict[str, Any]:
    """The fitted fields stored under `version`; `UnknownConfig` names the known ones."""
    row = conn.execute(
        "select params from kb.retrieval_configs where version = %s", (version,)
    ).fetchone()
    if row is None:
        known = [r[0] for r in conn.execute("select version from kb.retrieval_configs")]
        raise UnknownConfig(f"no retrieval configuration {version!r}; stored: {known or 'none'}")
    return dict(row[0])


def stored_config(conn: psycopg.Connection, version: str, base: RetrievalConfig) -> RetrievalConfig:
    """A stored configuration by version over `base` (`kb eval retrieval --config VERSION`).

    `base` is the calibrated defaults of the embedder searched with
    (`default_config(embedder)`), as for the active configuration: a stored version keeps
    only the fitted fields, so laid over bare `RetrievalConfig()` it would run with other
    legs, exact-token weight and cosine floor than the bot does.
    """
    return apply_params(base, stored_params(conn, version))


def save_config(
    conn: psycopg.Connection,
    *,
    version: str,
    fitted_on: date,
    config: RetrievalConfig,
    labels: tuple[int, int],
    validation: dict[str, Any],
    decision: str,
    activate: bool,
    embedder_key: str,
) -> dict[str, Any]:
    """Store a fitted version (its fitted fields only); `activate` makes it the one in use.

    Returns the stored params.
    """
    params = {name: getattr(config, name) for name in fitted_fields(config)}
    if activate:
        conn.execute("update kb.retrieval_configs set is_active = false where is_active")
    conn.execute(
        "insert into kb.retrieval_configs (version, fitted_on, params, labels_fit,"
        " labels_validate, validation, decision, is_active, activated_at, embedder_key)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, case when %s then now() end, %s)",
        (
            version,
            fitted_on,
            Jsonb(params),
            labels[0],
            labels[1],
            Jsonb(validation),
            decision,
            activate,
            activate,
            embedder_key,
        ),
    )
    return params


def fitted_today(conn: psycopg.Connection, today: date) -> tuple[str, str] | None:
    """(version, decision) of the fit stored today, if any: `tune` runs once a day."""
    row = conn.execute(
        "select version, decision from kb.retrieval_configs where fitted_on = %s", (today,)
    ).fetchone()
    return (row[0], row[1]) if row else None
