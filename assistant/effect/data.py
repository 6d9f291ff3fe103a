"""SQL for the effect measurement: what the score and effect steps read and write.

Reads come from the dbt marts (`marts.*`, `intermediate.int_suggestions_paired_with_replies`)
so the Python steps see exactly the definitions BI sees; writes go to the two tables of
migration 0050 (`assistant.suggestion_outcomes`, `kb.effect_estimates`). Flow modules
call these functions and hold no SQL themselves; the report's reads are in
`report_data.py`.
"""

from __future__ import annotations

import csv
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from assistant.bot.arms import assign_arm
from assistant.effect.stats import Estimate, TicketOutcome
from assistant.errors import KbError

logger = logging.getLogger(__name__)

ROLLOUT_SEED = (
    Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "assistant_rollout.csv"
)
MOSCOW = ZoneInfo("Europe/Moscow")
EFFECT_METRICS = ("frt_bm", "full_resolution_bm")
PLANNED_EFFECT = 0.20  # the effect the experiment is sized for: docs/effect-measurement.md §4.2


class EffectDataMissing(KbError):
    """The marts the effect steps read have not been built yet."""


@dataclass(frozen=True)
class ReplyPair:
    """A suggestion's draft and the staff's first public reply (one per ticket)."""

    ticket_id: int
    arm: str
    draft_source: str
    draft_text: str | None
    reply_comment_id: int | None
    reply_text: str | None
    replied: bool
    exposed: bool
    staff_text: str | None
    feedback: str | None
    cited_chunk_ids: list[str]


@dataclass(frozen=True)
class CitedChunk:
    chunk_id: str
    title: str
    url: str
    text: str


def require_relation(conn: psycopg.Connection, relation: str) -> None:
    row = conn.execute("select to_regclass(%s)", (relation,)).fetchone()
    if row is None or row[0] is None:
        raise EffectDataMissing(f"{relation} does not exist yet: run the marts stage (dbt) first")


def rollout_start(conn: psycopg.Connection) -> datetime:
    """The default rollout moment (seed assistant_rollout, category '*'), UTC.

    Reads the loaded seed; falls back to the seed file when dbt has not run yet.
    """
    enabled_from: date | None = None
    if conn.execute("select to_regclass('marts.assistant_rollout')").fetchone()[0] is not None:  # type: ignore[index]
        row = conn.execute(
            "select enabled_from from marts.assistant_rollout where category_code = '*'"
        ).fetchone()
        enabled_from = row[0] if row else None
    if enabled_from is None:
        with ROLLOUT_SEED.open(encoding="utf-8") as handle:
            for record in csv.DictReader(handle):
                if record["category_code"] == "*":
                    enabled_from = date.fromisoformat(record["enabled_from"])
    if enabled_from is None:
        raise EffectDataMissing("assistant_rollout has no default ('*') row")
    return datetime.combine(enabled_from, time(0), MOSCOW).astimezone(UTC)


# --- scoring -------------------------------------------------------------------------


def load_reply_pairs(conn: psycopg.Connection) -> list[ReplyPair]:
    """Every logged suggestion with the draft to score and the reply it is compared with."""
    relation = "intermediate.int_suggestions_paired_with_replies"
    require_relation(conn, relation)
    rows = conn.execute(
        """
        select ticket_id, arm, draft_source, draft_text, reply_comment_id, reply_text,
               is_replied, is_exposed, staff_text, assistant_feedback, cited_chunk_ids
        from intermediate.int_suggestions_paired_with_replies
        order by ticket_id
        """
    ).fetchall()
    return [
        ReplyPair(
            ticket_id=row[0],
            arm=row[1],
            draft_source=row[2],
            draft_text=row[3],
            reply_comment_id=row[4],
            reply_text=row[5],
            replied=bool(row[6]),
            exposed=bool(row[7]),
            staff_text=row[8],
            feedback=row[9],
            cited_chunk_ids=[str(chunk) for chunk in (row[10] or [])],
        )
        for row in rows
    ]


def load_cited_chunks(conn: psycopg.Connection, chunk_ids: Sequence[str]) -> dict[str, CitedChunk]:
    """Title, URL and text of cited chunks (empty when the index does not exist)."""
    if not chunk_ids or conn.execute("select to_regclass('kb.chunks')").fetchone()[0] is None:  # type: ignore[index]
        return {}
    rows = conn.execute(
        "select chunk_id, title, url, text from kb.chunks where chunk_id = any(%s)",
        (list(chunk_ids),),
    ).fetchall()
    return {row[0]: CitedChunk(row[0], row[1] or "", row[2] or "", row[3] or "") for row in rows}


OUTCOME_COLUMNS = (
    "task_id",
    "arm",
    "draft_source",
    "reply_comment_id",
    "replied",
    "exposed",
    "sim_char",
    "draft_retention",
    "usage_class",
    "chance_class",
    "cited_sources",
    "cited_sources_used",
    "feedback",
    "accepted_threshold",
    "edited_threshold",
    "calibration_pairs",
)


def upsert_outcomes(conn: psycopg.Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Write scored outcomes; re-scoring a ticket overwrites its row."""
    columns = [sql.Identifier(name) for name in OUTCOME_COLUMNS]
    statement = sql.SQL(
        "insert into assistant.suggestion_outcomes ({columns}) values ({values})"
        " on conflict (task_id) do update set {assignments}, scored_at = now()"
    ).format(
        columns=sql.SQL(", ").join(columns),
        values=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        assignments=sql.SQL(", ").join(
            sql.SQL("{0} = excluded.{0}").format(column) for column in columns[1:]
        ),
    )
    with conn.cursor() as cursor:
        cursor.executemany(statement, [tuple(row[c] for c in OUTCOME_COLUMNS) for row in rows])
    return len(rows)


# --- estimates -----------------------------------------------------------------------


def load_ticket_outcomes(
    conn: psycopg.Connection, holdout_share: float
) -> dict[str, list[TicketOutcome]]:
    """Per metric, one `TicketOutcome` per ticket from `marts.fct_tickets`.

    Resolution time only for matured tickets (created 14+ days ago), so recent weeks
    are not flattered by the slow tickets still open. Pre-rollout tickets carry the arm
    the same hash would have given them (`would_be_arm`) for the DiD; that is an
    estimator input, never a label in a mart.
    """
    require_relation(conn, "marts.fct_tickets")
    rows = conn.execute(
        """
        select ticket_id, assignment_arm, coalesce(category_code_at_creation, 'unknown'),
               frt_bm::float8,
               case when is_mature_14d then full_resolution_bm::float8 end
        from marts.fct_tickets
        where assignment_arm in ('pre_rollout', 'treatment', 'holdout')
        order by ticket_id
        """
    ).fetchall()
    result: dict[str, list[TicketOutcome]] = {metric: [] for metric in EFFECT_METRICS}
    for ticket_id, arm, category, frt, resolution in rows:
        would_be = assign_arm(ticket_id, holdout_share) if arm == "pre_rollout" else None
        for metric, value in zip(EFFECT_METRICS, (frt, resolution), strict=True):
            result[metric].append(TicketOutcome(arm, category, value, would_be))
    return result


def replace_estimates(conn: psycopg.Connection, estimates: Sequence[Estimate]) -> uuid.UUID:
    """Replace the effect table with one run's estimates (atomically, in one transaction)."""
    run_id = uuid.uuid4()
    with conn.transaction():
        conn.execute("delete from kb.effect_estimates")
        with conn.cursor() as cursor:
            cursor.executemany(
                """
                insert into kb.effect_estimates
                    (metric, segment, comparison, method, n_control, n_treated,
                     control_value, treated_value, rel_change, ci95_low, ci95_high, mde_80,
                     is_powered, category_standardised, extra, run_id)
                values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                """,
                [
                    (
                        e.metric,
                        e.segment,
                        e.comparison,
                        e.method,
                        e.n_control,
                        e.n_treated,
                        e.control_value,
                        e.treated_value,
                        e.rel_change,
                        e.ci95_low,
                        e.ci95_high,
                        e.mde_80,
                        _is_powered(e),
                        e.comparison == "treatment_vs_holdout",
                        Jsonb(e.extra),
                        run_id,
                    )
                    for e in estimates
                ],
            )
    return run_id


def _is_powered(estimate: Estimate) -> bool | None:
    """80 % power for the planned 20 % change in the median (docs/effect-measurement.md §4.2)."""
    if estimate.mde_80 is None:
        return None
    return estimate.mde_80 <= PLANNED_EFFECT
