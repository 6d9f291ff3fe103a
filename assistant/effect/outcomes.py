"""Did the staff use the bot's draft? Similarity of the draft to the first public reply.

Following docs/effect-measurement.md §2.4: normalise both texts (lower case, ё→е,
no greeting, signature or quoted text), then `sim_char` = 1 − Levenshtein / max length
and `draft_retention` = LCS tokens / draft tokens (ROUGE-L recall w.r.t. the draft).
Thresholds start at the conventional 0.90 / 0.40 and are raised to sit clearly above
the chance level seen on holdout drafts, which the staff never saw.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import LCSseq, Levenshtein

from assistant.email_text import latest_message

GREETING = re.compile(
    r"^\s*(здравствуйте|добрый\s+(день|вечер|утро)|привет|доброе\s+утро)[^\n.!]*[.!,]?\s*",
    re.IGNORECASE,
)
SIGNATURE = re.compile(
    r"\n\s*(с\s+уважением|спасибо,|--\s*$|best regards)[\s\S]*$", re.IGNORECASE | re.MULTILINE
)
TOKEN = re.compile(r"\w+", re.UNICODE)

BASE_ACCEPTED = 0.90
BASE_EDITED = 0.40


def normalise(text: str) -> str:
    """Lower-case, ё→е, strip greeting, signature and quoted lines, collapse whitespace.

    A reply sent by e-mail is first cut to its newest message (`assistant/email_text.py`):
    Outlook quotes the customer's letter below an «От: … Отправлено: …» block without `>`
    marks, which would otherwise count as text the engineer wrote.
    """
    text = SIGNATURE.sub("", latest_message(text or ""))
    text = GREETING.sub("", text.strip())
    text = text.lower().replace("ё", "е")
    return " ".join(text.split())


@dataclass(frozen=True)
class Similarity:
    sim_char: float
    draft_retention: float


def similarity(draft: str, reply: str) -> Similarity:
    """Character- and token-level similarity of a draft and the reply that was sent."""
    a, b = normalise(draft), normalise(reply)
    if not a or not b:
        return Similarity(0.0, 0.0)
    sim_char = 1.0 - Levenshtein.distance(a, b) / max(len(a), len(b))
    draft_tokens, reply_tokens = TOKEN.findall(a), TOKEN.findall(b)
    retention = (
        LCSseq.similarity(draft_tokens, reply_tokens) / len(draft_tokens) if draft_tokens else 0.0
    )
    return Similarity(sim_char=float(sim_char), draft_retention=float(retention))


@dataclass(frozen=True)
class Thresholds:
    accepted_sim_char: float
    edited_retention: float
    holdout_pairs: int


def calibrate(holdout: Sequence[Similarity]) -> Thresholds:
    """Raise the base thresholds above the 99th / 95th percentile of chance similarity."""
    if len(holdout) < 10:
        return Thresholds(BASE_ACCEPTED, BASE_EDITED, len(holdout))
    chars = np.array([s.sim_char for s in holdout])
    retention = np.array([s.draft_retention for s in holdout])
    return Thresholds(
        accepted_sim_char=float(max(BASE_ACCEPTED, np.percentile(chars, 99) + 0.02)),
        edited_retention=float(max(BASE_EDITED, np.percentile(retention, 95) + 0.02)),
        holdout_pairs=len(holdout),
    )


def usage_class(
    sim: Similarity | None, thresholds: Thresholds, *, exposed: bool, replied: bool
) -> str:
    """accepted / edited / ignored, or why the draft could not have been used."""
    if not replied:
        return "no_reply_yet"
    if not exposed:
        return "not_exposed"
    assert sim is not None
    if sim.sim_char >= thresholds.accepted_sim_char:
        return "accepted"
    if sim.draft_retention >= thresholds.edited_retention:
        return "edited"
    return "ignored"
