"""Self-tuned retrieval: fit fusion weights and the no-match threshold on answer labels.

Queries are labelled tickets (subject + description, masked as the bot masks them); the
relevant documents are their `kb.answer_labels`, ranked among documents of the same
source (the bot lists pages and similar tickets separately, so a used page competes
with pages only — measured on the sample, ranking it among all documents rewarded
configurations that push similar tickets out of the list). Split by time: the oldest 80 % of
tickets fit, the newest 20 % validate — the way the configuration will be used, on
tickets that come later. Few parameters, coarse grid: each leg weight of the current
`RetrievalConfig` (`w_<leg>` for every leg it has) on {0, .25, .5, .75, 1} (proportions
only: fusion is scale-free), then the no-match threshold on ~20 quantiles of the
confidence, maximising balanced accuracy between answered tickets (a labelled document in
the top 5) and unanswered ones plus off-topic probes. Each fit is stored as a versioned
row in `kb.retrieval_configs` (this module owns the table) with its validation figures
and those of the configuration in use; it becomes active only when its validation MRR@10
beats the current one by `MIN_GAIN`. Below `MIN_LABELS` labelled tickets nothing is
fitted; a second run on the same day changes nothing. At most the newest `MAX_QUERIES`
labelled tickets are used, which bounds the nightly cost.

Known bias: the index holds resolutions written after a validation ticket; a ticket's own
document is excluded, later ones are not, for both configurations alike.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from assistant.errors import KbError
from assistant.knowledge.evaluation.beir import OFF_TOPIC_QUERIES, query_metrics
from assistant.knowledge.index.store import KnowledgeStore
from assistant.knowledge.search.retrieval import (
    RetrievalConfig,
    Retriever,
    confidence,
    fused_scores,
    leg_matrix,
)
from assistant.redact import redact

logger = logging.getLogger(__name__)

MIN_LABELS = 100
VALIDATE_SHARE = 0.2
MIN_GAIN = 0.005
WEIGHT_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
THRESHOLD_QUANTILES = 20
TOP_CHUNKS = 8
MAX_QUERIES = 3000  # the newest labelled tickets (KB_TUNE_MAX_TICKETS); bounds the nightly cost
DOCUMENTS_SCORED = 10  # MRR@10 and hit@1/5 read no further
NO_EMBEDDER = "none"  # the embedder key of an index without vectors (lexical search only)
_MISMATCH_LOGGED: set[tuple[str, str]] = set()


class UnknownConfig(KbError):
    """`kb eval retrieval --config VERSION` names no stored configuration."""


def source_of(document_id: str) -> str:
    """`confluence:123` → `confluence` (document ids are `<source>:<id>`)."""
    return document_id.split(":", 1)[0]


@dataclass(frozen=True)
class LabelledQuery:
    ticket_id: int
    created_at: datetime
    text: str
    relevant: frozenset[str]

    @property
    def sources(self) -> frozenset[str]:
        return frozenset(source_of(doc) for doc in self.relevant)


# --- the configuration store ----------------------------------------------------------


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


def stored_config(conn: psycopg.Connection, version: str) -> RetrievalConfig:
    """A stored configuration by version (`kb eval retrieval --config VERSION`)."""
    row = conn.execute(
        "select params from kb.retrieval_configs where version = %s", (version,)
    ).fetchone()
    if row is None:
        known = [r[0] for r in conn.execute("select version from kb.retrieval_configs")]
        raise UnknownConfig(f"no retrieval configuration {version!r}; stored: {known or 'none'}")
    return apply_params(RetrievalConfig(), row[0])


# --- data -----------------------------------------------------------------------------


def load_labelled_queries(conn: psycopg.Connection) -> list[LabelledQuery]:
    """Labelled tickets, oldest first, with the set of documents staff used."""
    rows = conn.execute(
        "select t.ticket_id, t.created_at, coalesce(t.subject, ''), coalesce(t.description, ''),"
        " array_agg(distinct l.document_id order by l.document_id)"
        " from kb.answer_labels as l join marts.fct_tickets as t on t.ticket_id = l.ticket_id"
        " group by 1, 2, 3, 4 order by t.created_at, t.ticket_id"
    ).fetchall()
    return [
        LabelledQuery(tid, created, redact(f"{subject}\n{description}".strip()), frozenset(docs))
        for tid, created, subject, description, docs in rows
    ]


def time_split(queries: list[LabelledQuery]) -> tuple[list[LabelledQuery], list[LabelledQuery]]:
    cut = round(len(queries) * (1 - VALIDATE_SHARE))
    return queries[:cut], queries[cut:]


@dataclass
class CachedLegs:
    """Per-query leg scores (own document removed), so grids re-fuse without re-querying."""

    legs: dict[int, dict[str, dict[str, float]]]
    owners: dict[str, str]
    off_topic: list[dict[str, dict[str, float]]]
    _sources: dict[str, str] = field(default_factory=dict, repr=False)
    # (id of a query's legs, fusion, rrf_k) → its leg matrix: the grid only changes weights
    _matrices: dict[tuple[int, str, int], tuple[list[str], list[str], np.ndarray]] = field(
        default_factory=dict, repr=False
    )

    @classmethod
    def collect(cls, retriever: Retriever, queries: list[LabelledQuery]) -> CachedLegs:
        owners = retriever.store.chunk_owners()
        retriever.prime([*(query.text for query in queries), *OFF_TOPIC_QUERIES])
        legs = {}
        for query in queries:
            own = f"pyrus:{query.ticket_id}"
            raw = retriever.legs(query.text)
            legs[query.ticket_id] = {
                leg: {c: s for c, s in scores.items() if owners.get(c) != own}
                for leg, scores in raw.items()
            }
        return cls(legs, owners, [retriever.legs(text) for text in OFF_TOPIC_QUERIES])

    def ranked(self, legs: dict[str, dict[str, float]], config: RetrievalConfig) -> list[str]:
        """Chunk ids best first under `config`, ties by id, as `fuse` ranks them."""
        key = (id(legs), config.fusion, config.rrf_k)
        if key not in self._matrices:
            self._matrices[key] = leg_matrix(legs, config.fusion, config.rrf_k)
        ids, names, matrix = self._matrices[key]
        order = np.argsort(-fused_scores(ids, names, matrix, config), kind="stable")
        return [ids[i] for i in order]

    def documents(
        self, chunk_ids: list[str], sources: frozenset[str], limit: int = DOCUMENTS_SCORED
    ) -> list[str]:
        """Distinct documents of `sources`, best chunk first (the first `limit`).

        The bot lists pages and similar tickets separately (suggest.py), so a used page
        competes only with pages and a referenced ticket only with tickets. The grid calls
        this for every query and configuration, hence the cached sources and early stop.
        """
        if len(self._sources) != len(self.owners):
            self._sources = {cid: source_of(doc) for cid, doc in self.owners.items()}
        found: dict[str, None] = {}
        for cid in chunk_ids:
            doc = self.owners.get(cid)
            if doc is not None and doc not in found and self._sources[cid] in sources:
                found[doc] = None
                if len(found) == limit:
                    break
        return list(found)

    def evaluate(self, queries: list[LabelledQuery], config: RetrievalConfig) -> dict[str, float]:
        """MRR@10, hit@1/5 and the no-match balanced accuracy of `config` on `queries`."""
        rows, answered, unanswered = [], [], []
        for query in queries:
            legs = self.legs[query.ticket_id]
            chunks = self.ranked(legs, config)
            ranked = self.documents(chunks, query.sources)
            metrics = query_metrics(ranked, dict.fromkeys(query.relevant, 1))
            rows.append(metrics)
            conf = confidence(legs, chunks[:TOP_CHUNKS])
            (answered if metrics["hit@5"] else unanswered).append(conf)
        unanswered += [
            confidence(legs, self.ranked(legs, config)[:TOP_CHUNKS]) for legs in self.off_topic
        ]
        n = len(rows) or 1
        return {
            "queries": len(rows),
            "mrr@10": round(sum(r["mrr@10"] for r in rows) / n, 4),
            "hit@1": round(sum(r["hit@1"] for r in rows) / n, 4),
            "hit@5": round(sum(r["hit@5"] for r in rows) / n, 4),
            "no_match_balanced_accuracy": round(
                _balanced(answered, unanswered, config.no_match_threshold), 4
            ),
        }


def _balanced(answered: list[float], unanswered: list[float], threshold: float) -> float:
    tpr = sum(c >= threshold for c in answered) / len(answered) if answered else 0.0
    tnr = sum(c < threshold for c in unanswered) / len(unanswered) if unanswered else 0.0
    return (tpr + tnr) / 2


# --- fitting --------------------------------------------------------------------------


def weight_grid(base: RetrievalConfig) -> list[RetrievalConfig]:
    """Every proportion of the leg weights on the coarse grid (all-zero and duplicates out)."""
    names = [name for name in fitted_fields(base) if name.startswith("w_")]
    seen, grid = set(), []
    for values in itertools.product(WEIGHT_GRID, repeat=len(names)):
        total = sum(values)
        if total == 0:
            continue
        key = tuple(round(v / total, 3) for v in values)
        if key not in seen:
            seen.add(key)
            grid.append(replace(base, **dict(zip(names, values, strict=True))))
    return grid


def fit_threshold(
    cache: CachedLegs, queries: list[LabelledQuery], config: RetrievalConfig
) -> float:
    answered, unanswered = [], []
    for query in queries:
        legs = cache.legs[query.ticket_id]
        chunks = cache.ranked(legs, config)
        hit = query.relevant & set(cache.documents(chunks, query.sources)[:5])
        (answered if hit else unanswered).append(confidence(legs, chunks[:TOP_CHUNKS]))
    for legs in cache.off_topic:
        unanswered.append(confidence(legs, cache.ranked(legs, config)[:TOP_CHUNKS]))
    values = sorted(answered + unanswered)
    if not answered or not unanswered:
        return config.no_match_threshold
    candidates = {
        values[int(i * (len(values) - 1) / THRESHOLD_QUANTILES)]
        for i in range(THRESHOLD_QUANTILES + 1)
    }
    return round(max(sorted(candidates), key=lambda t: _balanced(answered, unanswered, t)), 4)


def fit(cache: CachedLegs, train: list[LabelledQuery], base: RetrievalConfig) -> RetrievalConfig:
    """Best weights by fit-split MRR@10 (ties: hit@1, then the grid order), then the threshold."""
    best, best_key = base, (-1.0, -1.0)
    for candidate in weight_grid(base):
        figures = cache.evaluate(train, candidate)
        key = (figures["mrr@10"], figures["hit@1"])
        if key > best_key:
            best, best_key = candidate, key
    return replace(best, no_match_threshold=fit_threshold(cache, train, best))


def _version(today: date, params: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]
    return f"{today.isoformat()}-{digest}"


QueryTexts = Callable[[list[int]], dict[int, str]]


def tune(
    conn: psycopg.Connection,
    retriever: Retriever,
    *,
    today: date,
    min_labels: int = MIN_LABELS,
    max_queries: int = MAX_QUERIES,
    query_texts: QueryTexts | None = None,
) -> dict[str, Any]:
    """Fit, store and (if it wins on the validation split) activate; returns what happened.

    `query_texts` (ticket ids → the text the bot searches for each ticket) makes the
    fit see exactly the bot's queries, and lets it reuse the vectors the bot and replay
    stored for them; without it the marts' subject and description are used.
    """
    done = conn.execute(
        "select version, decision from kb.retrieval_configs where fitted_on = %s", (today,)
    ).fetchone()
    if done:
        return {"changed": False, "reason": f"already tuned today ({done[0]}: {done[1]})"}
    queries = load_labelled_queries(conn)
    if len(queries) < min_labels:
        reason = f"{len(queries)} labelled tickets, fewer than the {min_labels} needed to tune"
        logger.info("tune skipped: %s", reason)
        return {"changed": False, "labelled_tickets": len(queries), "reason": reason}
    current, current_version = active_config(conn, retriever.config)
    queries = queries[-max_queries:]
    if query_texts is not None:
        texts = query_texts([query.ticket_id for query in queries])
        queries = [replace(q, text=texts.get(q.ticket_id) or q.text) for q in queries]
    train, validate = time_split(queries)
    cache = CachedLegs.collect(retriever.with_config(legs=current.legs), train + validate)
    candidate = fit(cache, train, current)
    before, after = cache.evaluate(validate, current), cache.evaluate(validate, candidate)
    params = {name: getattr(candidate, name) for name in fitted_fields(candidate)}
    wins = after["mrr@10"] >= before["mrr@10"] + MIN_GAIN
    decision = (
        f"activated: validation MRR@10 {before['mrr@10']} → {after['mrr@10']}"
        if wins
        else f"kept {current_version or 'defaults'}: validation MRR@10 {after['mrr@10']} does "
        f"not beat {before['mrr@10']} by {MIN_GAIN}"
    )
    version = _version(today, params)
    if wins:
        conn.execute("update kb.retrieval_configs set is_active = false where is_active")
    conn.execute(
        "insert into kb.retrieval_configs (version, fitted_on, params, labels_fit,"
        " labels_validate, validation, decision, is_active, activated_at, embedder_key)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, case when %s then now() end, %s)",
        (
            version,
            today,
            Jsonb(params),
            len(train),
            len(validate),
            Jsonb(
                {
                    "current": before,
                    "candidate": after,
                    "current_version": current_version,
                    "current_params": {n: getattr(current, n) for n in fitted_fields(current)},
                }
            ),
            decision,
            wins,
            wins,
            retriever.embedder.key if retriever.embedder is not None else NO_EMBEDDER,
        ),
    )
    logger.info("tune %s: %s", version, decision)
    return {
        "changed": wins,
        "version": version,
        "reason": decision,
        "labels_fit": len(train),
        "labels_validate": len(validate),
        "before": before,
        "after": after,
        "params": params,
    }
