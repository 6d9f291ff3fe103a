"""Prefect flow `score`: how the staff used the bot's drafts.

For every logged suggestion: similarity of the draft to the staff's first public reply
(character- and token-level), the usage class with thresholds calibrated on the holdout
drafts (chance level), whether cited sources were used, the feedback field. Reads the
marts (run after the `marts` stage), writes `assistant.suggestion_outcomes`, which the
`fct_assistant_suggestions` view exposes at once, and scores follow-up drafts against the
reply that followed their message (`assistant.suggestion_turn_outcomes`).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from prefect import flow

from assistant.db import connect
from assistant.effect.data import load_cited_chunks, load_reply_pairs, upsert_outcomes
from assistant.effect.scoring import score_pairs
from assistant.effect.turn_scoring import load_turn_pairs, score_turn_pairs, upsert_turn_outcomes
from flows.artifacts import publish_summary
from flows.runtime import Runtime, current_runtime
from flows.steps import stage_step

logger = logging.getLogger(__name__)

ARTIFACT_KEY = "score-summary"


def score_suggestions(url: str) -> dict[str, Any]:
    """Score every logged suggestion and store the outcomes (idempotent upsert)."""
    with connect(url) as conn:
        pairs = load_reply_pairs(conn)
        chunk_ids = sorted({chunk for pair in pairs for chunk in pair.cited_chunk_ids})
        chunks = load_cited_chunks(conn, chunk_ids)
        thresholds, rows = score_pairs(pairs, chunks)
        written = upsert_outcomes(conn, rows)
        turns = upsert_turn_outcomes(conn, score_turn_pairs(load_turn_pairs(conn), thresholds))
        conn.commit()
    classes = Counter(row["usage_class"] for row in rows)
    logger.info("scored %d suggestion(s): %s", written, dict(classes))
    return {
        "scored": written,
        "scored_follow_ups": turns,
        "accepted_threshold": round(thresholds.accepted_sim_char, 3),
        "edited_threshold": round(thresholds.edited_retention, 3),
        "calibration_pairs": thresholds.holdout_pairs,
        **{f"n_{name}": count for name, count in sorted(classes.items())},
    }


@flow(name="score")
def score() -> dict[str, Any]:
    """Score the drafts; ends with a table artifact of the usage classes."""
    runtime = current_runtime()
    summary = stage_step("score-suggestions", score_suggestions, runtime.database_url())
    publish_summary(ARTIFACT_KEY, summary, "score: draft usage classes and calibrated thresholds")
    return summary


def run(runtime: Runtime) -> dict[str, Any]:
    """`kb refresh --only score` (always rescores everything: it is cheap)."""
    with runtime.active():
        return score()
