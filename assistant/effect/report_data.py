"""SQL that loads the effect report's inputs from the marts and the effect table.

Split from `data.py` (which owns the score/estimate reads and writes) to keep both
small; `flows.effect.report_html` and the `kb report effect` command use these.
"""

from __future__ import annotations

import psycopg

from assistant.effect.data import require_relation
from assistant.effect.report import ArmRow, EffectRow, GapRow, WeeklyPoint
from assistant.effect.weekly import weekly_points


def load_effect_rows(conn: psycopg.Connection) -> list[EffectRow]:
    """The stored effect table, overall rows first."""
    require_relation(conn, "kb.effect_estimates")
    rows = conn.execute(
        """
        select metric, segment, comparison, method, n_control, n_treated, control_value,
               treated_value, rel_change, ci95_low, ci95_high, mde_80
        from kb.effect_estimates
        order by segment <> 'ALL', metric, comparison, segment
        """
    ).fetchall()
    return [EffectRow(*row) for row in rows]


def load_weekly_medians(conn: psycopg.Connection) -> list[WeeklyPoint]:
    """Median FRT (business minutes) per arm and week, thin weeks pooled with neighbours."""
    require_relation(conn, "marts.fct_tickets")
    rows = conn.execute(
        """
        select created_week_msk, assignment_arm, array_agg(frt_bm::float8 order by frt_bm)
        from marts.fct_tickets
        where frt_bm is not null and assignment_arm in ('pre_rollout', 'treatment', 'holdout')
        group by 1, 2
        order by 1, 2
        """
    ).fetchall()
    return weekly_points(rows)


def load_usage_counts(conn: psycopg.Connection) -> dict[str, int]:
    """How the shown drafts were used (treatment arm only)."""
    require_relation(conn, "marts.fct_assistant_suggestions")
    rows = conn.execute(
        "select usage_class, count(*) from marts.fct_assistant_suggestions"
        " where arm = 'treatment' group by 1"
    ).fetchall()
    return {str(usage): int(n) for usage, n in rows}


def load_gaps(conn: psycopg.Connection) -> list[GapRow]:
    """Tickets whose retrieval found nothing good, per week and category."""
    require_relation(conn, "marts.kb_gaps")
    rows = conn.execute(
        "select week_start_msk, category_code, tickets_without_good_match"
        " from marts.kb_gaps order by 1, 2"
    ).fetchall()
    return [GapRow(week, category, int(n)) for week, category, n in rows]


def load_arm_rows(conn: psycopg.Connection) -> list[ArmRow]:
    """Raw medians and rates of every metric (segment ALL) from effect_arm_comparison."""
    require_relation(conn, "marts.effect_arm_comparison")
    rows = conn.execute(
        """
        select metric, comparison, statistic, n_control, n_treated,
               control_value::float8, treated_value::float8
        from marts.effect_arm_comparison
        where segment = 'ALL'
        order by comparison desc, metric
        """
    ).fetchall()
    return [ArmRow(*row) for row in rows]


def load_feedback_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Answers to the form's feedback field on tickets where the bot's draft was shown."""
    require_relation(conn, "marts.fct_assistant_suggestions")
    rows = conn.execute(
        "select agent_feedback, count(*) from marts.fct_assistant_suggestions"
        " where arm = 'treatment' and agent_feedback is not null group by 1"
    ).fetchall()
    return {str(answer): int(n) for answer, n in rows}
