"""Score follow-up drafts against the staff reply that followed *that* message.

A ticket's first suggestion is scored against the staff's first public reply
(`scoring.py`). A follow-up answers a later customer message, so its draft is compared
with the staff's next public reply after that message
(`intermediate.int_suggestion_turns_paired_with_replies`), with the same similarity and
the same thresholds — calibrated on the holdout first suggestions, the chance level of
the measure. Questions to the bot are answers for the engineer, not customer drafts:
they are not scored (their kind is kept in the marts, docs/conversation.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from assistant.effect.data import require_relation
from assistant.effect.outcomes import Thresholds, similarity
from assistant.effect.scoring import classify

SCORED_KINDS = ("follow_up",)


@dataclass(frozen=True)
class TurnPair:
    """A follow-up's draft and the staff's next public reply after its message."""

    turn_id: int
    ticket_id: int
    kind: str
    arm: str
    draft_text: str | None
    reply_comment_id: int | None
    reply_text: str | None
    replied: bool
    exposed: bool


def load_turn_pairs(conn: psycopg.Connection) -> list[TurnPair]:
    """Every scored kind of turn with its draft and the reply that followed its message."""
    relation = "intermediate.int_suggestion_turns_paired_with_replies"
    require_relation(conn, relation)
    rows = conn.execute(
        """
        select turn_id, ticket_id, suggestion_kind, arm, draft_text, reply_comment_id,
               reply_text, is_replied, is_exposed
        from intermediate.int_suggestion_turns_paired_with_replies
        where suggestion_kind = any(%s)
        order by turn_id
        """,
        (list(SCORED_KINDS),),
    ).fetchall()
    return [TurnPair(*row[:7], replied=bool(row[7]), exposed=bool(row[8])) for row in rows]


def score_turn_pairs(pairs: Sequence[TurnPair], thresholds: Thresholds) -> list[dict[str, Any]]:
    """One outcome row per turn; holdout turns are `shadow` with the class they would get."""
    rows = []
    for pair in pairs:
        sim = (
            similarity(pair.draft_text, pair.reply_text)
            if pair.replied and pair.draft_text and pair.reply_text
            else None
        )
        klass, chance = classify(
            sim, thresholds, arm=pair.arm, exposed=pair.exposed, replied=pair.replied
        )
        rows.append(
            {
                "turn_id": pair.turn_id,
                "task_id": pair.ticket_id,
                "kind": pair.kind,
                "arm": pair.arm,
                "reply_comment_id": pair.reply_comment_id,
                "replied": pair.replied,
                "exposed": pair.exposed,
                "sim_char": sim.sim_char if sim else None,
                "draft_retention": sim.draft_retention if sim else None,
                "usage_class": klass,
                "chance_class": chance,
            }
        )
    return rows


def upsert_turn_outcomes(conn: psycopg.Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Write turn outcomes; re-scoring a turn overwrites its row."""
    with conn.cursor() as cursor:
        cursor.executemany(
            """
            insert into assistant.suggestion_turn_outcomes
                (turn_id, task_id, kind, arm, reply_comment_id, replied, exposed, sim_char,
                 draft_retention, usage_class, chance_class)
            values (%(turn_id)s, %(task_id)s, %(kind)s, %(arm)s, %(reply_comment_id)s,
                    %(replied)s, %(exposed)s, %(sim_char)s, %(draft_retention)s,
                    %(usage_class)s, %(chance_class)s)
            on conflict (turn_id) do update set
                reply_comment_id = excluded.reply_comment_id, replied = excluded.replied,
                exposed = excluded.exposed, sim_char = excluded.sim_char,
                draft_retention = excluded.draft_retention,
                usage_class = excluded.usage_class, chance_class = excluded.chance_class,
                scored_at = now()
            """,
            rows,
        )
    return len(rows)
