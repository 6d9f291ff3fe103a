"""Score every logged suggestion against the staff's first public reply.

Holdout drafts were never shown, so their similarity to the reply is the chance level:
the thresholds are calibrated on them (`outcomes.calibrate`) before the treatment
drafts are classified. Holdout rows get usage class `shadow` plus the class the
thresholds would have given them (`chance_class`), which is the false-positive rate
the report can show next to the acceptance rate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from assistant.effect.data import CitedChunk, ReplyPair
from assistant.effect.outcomes import (
    Similarity,
    Thresholds,
    calibrate,
    normalise,
    similarity,
    usage_class,
)

CONTENT_TOKEN = re.compile(r"\w{5,}", re.UNICODE)
SOURCE_TOKEN_SHARE = 0.5


def _content_tokens(text: str) -> set[str]:
    return set(CONTENT_TOKEN.findall(normalise(text)))


def source_used(chunk: CitedChunk, staff_text: str, reply_text: str) -> bool:
    """Did the staff use a cited article?

    Yes when anything staff wrote mentions its URL or title, or when at least half of
    the first reply's content words (5+ letters) occur in the article's text.
    """
    staff = normalise(staff_text)
    if chunk.url and chunk.url.lower() in staff_text.lower():
        return True
    if chunk.title and normalise(chunk.title) and normalise(chunk.title) in staff:
        return True
    reply_tokens = _content_tokens(reply_text)
    if not reply_tokens or not chunk.text:
        return False
    return len(reply_tokens & _content_tokens(chunk.text)) / len(reply_tokens) >= SOURCE_TOKEN_SHARE


def _similarity(pair: ReplyPair) -> Similarity | None:
    if not pair.replied or not pair.draft_text or not pair.reply_text:
        return None
    return similarity(pair.draft_text, pair.reply_text)


def classify(
    sim: Similarity | None, thresholds: Thresholds, *, arm: str, exposed: bool, replied: bool
) -> tuple[str, str | None]:
    """(usage class, chance class): a holdout draft is `shadow`, with the class it would get."""
    if arm == "holdout":
        chance = usage_class(sim, thresholds, exposed=True, replied=True) if sim else None
        return "shadow", chance
    return usage_class(sim, thresholds, exposed=exposed and sim is not None, replied=replied), None


def score_pairs(
    pairs: Sequence[ReplyPair], chunks: Mapping[str, CitedChunk]
) -> tuple[Thresholds, list[dict[str, Any]]]:
    """Thresholds calibrated on the holdout, and one outcome row per pair."""
    sims = {pair.ticket_id: _similarity(pair) for pair in pairs}
    chance = [
        sim for pair in pairs if pair.arm == "holdout" and (sim := sims[pair.ticket_id]) is not None
    ]
    thresholds = calibrate(chance)
    rows = []
    for pair in pairs:
        sim = sims[pair.ticket_id]
        klass, chance_class = classify(
            sim, thresholds, arm=pair.arm, exposed=pair.exposed, replied=pair.replied
        )
        cited = [chunks[c] for c in pair.cited_chunk_ids if c in chunks]
        used = (
            sum(
                source_used(chunk, pair.staff_text or "", pair.reply_text or "")
                for chunk in {c.chunk_id: c for c in cited}.values()
            )
            if chunks or not pair.cited_chunk_ids
            else None
        )
        rows.append(
            {
                "task_id": pair.ticket_id,
                "arm": pair.arm,
                "draft_source": pair.draft_source,
                "reply_comment_id": pair.reply_comment_id,
                "replied": pair.replied,
                "exposed": pair.exposed,
                "sim_char": sim.sim_char if sim else None,
                "draft_retention": sim.draft_retention if sim else None,
                "usage_class": klass,
                "chance_class": chance_class,
                "cited_sources": len(set(pair.cited_chunk_ids)),
                "cited_sources_used": used,
                "feedback": pair.feedback,
                "accepted_threshold": thresholds.accepted_sim_char,
                "edited_threshold": thresholds.edited_retention,
                "calibration_pairs": thresholds.holdout_pairs,
            }
        )
    return thresholds, rows
