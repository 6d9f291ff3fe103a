"""Self-tuned retrieval: fit fusion weights and the no-match threshold on answer labels.

Queries are labelled tickets (subject + description, masked as the bot masks them); the
relevant documents are their `kb.answer_labels`, ranked among documents of the same
source (the bot lists pages and similar tickets separately, so a used page competes
with pages only — measured on the sample, ranking it among all documents rewarded
configurations that push similar tickets out of the list). Split by time: the oldest 80 % of
tickets fit, the newest 20 % validate — the way the configuration will be used, on
tickets that come later. Few parameters, coarse grid: each leg weight of the current
`RetrievalConfig` (`w_<leg>` for every leg it has) on {0, .25, .5, .75, 1} (proportions
only: fusion is scale-free), then the no-match threshold on the confidence the bot
computes (`scoring.ranked_confidence`, with the cosine floor), maximising balanced
accuracy between answered tickets (a labelled document in the top 5) and unanswered ones
plus off-topic probes. The grid, the leg cache and the threshold fit are the shared ones
of `evaluation/fitting.py`. Each fit is stored as a versioned row in `kb.retrieval_configs`
(through `search/config.py`, which owns the table) with its validation figures
and those of the configuration in use; it becomes active only when its validation MRR@10
beats the current one by `MIN_GAIN`. Below `MIN_LABELS` labelled tickets nothing is
fitted; a second run on the same day changes nothing. At most the newest `MAX_QUERIES`
labelled tickets are used, which bounds the nightly cost.

Known bias: the index holds resolutions written after a validation ticket; a ticket's own
document is excluded, later ones are not, for both configurations alike.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import psycopg

from assistant.knowledge.evaluation.fitting import (
    Grid,
    LegCache,
    best_config,
    fit_threshold,
    rates,
    source_of,
)
from assistant.knowledge.evaluation.metrics import query_metrics
from assistant.knowledge.search.config import (
    NO_EMBEDDER,
    RetrievalConfig,
    active_config,
    fitted_fields,
    fitted_today,
    save_config,
)
from assistant.knowledge.search.retrieval import Retriever
from assistant.redact import redact

logger = logging.getLogger(__name__)

MIN_LABELS = 100
VALIDATE_SHARE = 0.2
MIN_GAIN = 0.005
WEIGHT_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
MAX_QUERIES = 3000  # the newest labelled tickets (KB_TUNE_MAX_TICKETS); bounds the nightly cost


@dataclass(frozen=True)
class LabelledQuery:
    ticket_id: int
    created_at: datetime
    text: str
    relevant: frozenset[str]

    @property
    def key(self) -> str:
        """The query's id in the leg cache."""
        return str(self.ticket_id)

    @property
    def sources(self) -> frozenset[str]:
        return frozenset(source_of(doc) for doc in self.relevant)


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


def collect(retriever: Retriever, queries: list[LabelledQuery]) -> LegCache:
    """Every query's legs, its own ticket's chunks removed (a ticket must not find itself)."""
    return LegCache.collect(
        retriever,
        {query.key: query.text for query in queries},
        exclude={query.key: f"pyrus:{query.ticket_id}" for query in queries},
    )


# --- fitting --------------------------------------------------------------------------


def weight_grid(base: RetrievalConfig) -> list[RetrievalConfig]:
    """Every proportion of the tuned leg weights on the coarse grid (all-zero and
    duplicates out); the legs `base` lacks keep their weights."""
    names = [name for name in fitted_fields(base) if name.startswith("w_")]
    return Grid({name: WEIGHT_GRID for name in names}, proportional=True).configs(base)


def _confidences(
    cache: LegCache, queries: list[LabelledQuery], config: RetrievalConfig
) -> tuple[list[dict[str, float]], list[float], list[float]]:
    """Per-query metrics, and the bot's confidence of answered (a labelled document in
    the top 5) and of unanswered queries plus the off-topic probes."""
    rows, answered, unanswered = [], [], []
    for query in queries:
        chunks = cache.ranked(query.key, config)
        ranked = cache.documents(chunks, query.sources)
        metrics = query_metrics(ranked, dict.fromkeys(query.relevant, 1))
        rows.append(metrics)
        conf = cache.confidence(query.key, config, chunks)
        (answered if metrics["hit@5"] else unanswered).append(conf)
    return rows, answered, unanswered + cache.off_topic_confidences(config)


def evaluate(
    cache: LegCache, queries: list[LabelledQuery], config: RetrievalConfig
) -> dict[str, float]:
    """MRR@10, hit@1/5 and the no-match balanced accuracy of `config` on `queries`."""
    rows, answered, unanswered = _confidences(cache, queries, config)
    n = len(rows) or 1
    no_match = rates(answered, unanswered, config.no_match_threshold)
    return {
        "queries": len(rows),
        "mrr@10": round(sum(r["mrr@10"] for r in rows) / n, 4),
        "hit@1": round(sum(r["hit@1"] for r in rows) / n, 4),
        "hit@5": round(sum(r["hit@5"] for r in rows) / n, 4),
        "no_match_balanced_accuracy": round(no_match.balanced_accuracy, 4),
    }


def fit(cache: LegCache, train: list[LabelledQuery], base: RetrievalConfig) -> RetrievalConfig:
    """Best weights by fit-split MRR@10 (ties: hit@1, then the grid order), then the
    threshold on the confidence the bot computes with them."""

    def score(config: RetrievalConfig) -> tuple[float, float]:
        figures = evaluate(cache, train, config)
        return figures["mrr@10"], figures["hit@1"]

    best = best_config(weight_grid(base), score)
    _, answered, unanswered = _confidences(cache, train, best)
    threshold = fit_threshold(answered, unanswered, best.no_match_threshold).threshold
    return replace(best, no_match_threshold=threshold)


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
    done = fitted_today(conn, today)
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
    cache = collect(retriever.with_config(legs=current.legs), train + validate)
    candidate = fit(cache, train, current)
    before, after = evaluate(cache, validate, current), evaluate(cache, validate, candidate)
    wins = after["mrr@10"] >= before["mrr@10"] + MIN_GAIN
    decision = (
        f"activated: validation MRR@10 {before['mrr@10']} → {after['mrr@10']}"
        if wins
        else f"kept {current_version or 'defaults'}: validation MRR@10 {after['mrr@10']} does "
        f"not beat {before['mrr@10']} by {MIN_GAIN}"
    )
    params = {name: getattr(candidate, name) for name in fitted_fields(candidate)}
    version = _version(today, params)
    save_config(
        conn,
        version=version,
        fitted_on=today,
        config=candidate,
        labels=(len(train), len(validate)),
        validation={
            "current": before,
            "candidate": after,
            "current_version": current_version,
            "current_params": {n: getattr(current, n) for n in fitted_fields(current)},
        },
        decision=decision,
        activate=wins,
        embedder_key=retriever.embedder.key if retriever.embedder is not None else NO_EMBEDDER,
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
