"""SQL that loads the effect report's inputs from the marts and the effect table.

Split from `data.py` (which owns the score/estimate reads and writes) to keep both
small. `report_html` is the one way to build the page: the `effect` flow
(flows/effect.py) and `kb report effect` both call it, and it imports no Prefect.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from assistant.db import connect
from assistant.effect import llm_health
from assistant.effect.data import MOSCOW, require_relation, rollout_start
from assistant.effect.report import ArmRow, EffectRow, GapRow, WeeklyPoint, render_report
from assistant.effect.report_types import AdoptionWeek, GapDocument, Period, ReportData, WeekCount
from assistant.effect.retrieval_quality import load_quality_series, section_html
from assistant.effect.weekly import weekly_points


def report_html(url: str, *, planted_effect: float | None = None) -> str:
    """The self-contained HTML report from the stored estimates and the marts."""
    with connect(url) as conn:
        return render_report(load_report_data(conn, planted_effect=planted_effect))


def load_report_data(
    conn: psycopg.Connection, *, planted_effect: float | None = None
) -> ReportData:
    """Everything the page shows; a section owned elsewhere goes into `extra_sections`."""
    return ReportData(
        generated_at=datetime.now(UTC),
        effects=load_effect_rows(conn),
        weekly=load_weekly_medians(conn),
        gaps=load_gaps(conn),
        planted_effect=planted_effect,
        arm_rows=load_arm_rows(conn),
        feedback_counts=load_feedback_counts(conn),
        retrieval_section=section_html(load_quality_series(conn)),
        period=load_period(conn),
        weekly_volume=load_weekly_volume(conn),
        adoption=load_adoption(conn),
        gap_documents=load_gap_documents(conn),
        extra_sections=_present(llm_health.section_html(llm_health.load_llm_health(conn))),
    )


def load_period(conn: psycopg.Connection) -> Period | None:
    """First and last ticket day (Moscow) and the rollout day; None without tickets."""
    require_relation(conn, "marts.fct_tickets")
    row = conn.execute(
        "select min(created_date_msk), max(created_date_msk) from marts.fct_tickets"
    ).fetchone()
    if row is None or row[0] is None:
        return None
    return Period(row[0], row[1], rollout_start(conn).astimezone(MOSCOW).date())


def load_weekly_volume(conn: psycopg.Connection) -> list[WeekCount]:
    """Answered post-rollout tickets (both arms) per complete creation week, oldest first."""
    require_relation(conn, "marts.fct_tickets")
    rows = conn.execute(
        """
        select created_week_msk, count(*)
        from marts.fct_tickets
        where frt_bm is not null and assignment_arm in ('treatment', 'holdout')
            and created_week_msk + 7 <= (select max(created_date_msk) from marts.fct_tickets)
        group by 1
        order by 1
        """
    ).fetchall()
    return [WeekCount(week, int(n)) for week, n in rows]


def load_adoption(conn: psycopg.Connection) -> list[AdoptionWeek]:
    """Scored drafts of the treatment arm per creation week: accepted, edited, ignored."""
    require_relation(conn, "marts.fct_assistant_suggestions")
    rows = conn.execute(
        """
        select created_week_msk,
               count(*) filter (where usage_class = 'accepted'),
               count(*) filter (where usage_class = 'edited'),
               count(*) filter (where usage_class = 'ignored')
        from marts.fct_assistant_suggestions
        where arm = 'treatment' and usage_class in ('accepted', 'edited', 'ignored')
        group by 1
        order by 1
        """
    ).fetchall()
    return [AdoptionWeek(week, int(a), int(e), int(i)) for week, a, e, i in rows]


def load_gap_documents(conn: psycopg.Connection) -> list[GapDocument]:
    """Documents staff used that the bot missed, most often missed first."""
    require_relation(conn, "marts.kb_gap_documents")
    rows = conn.execute(
        """
        select coalesce(title, document_id), url, tickets_missed, category_codes
        from marts.kb_gap_documents
        order by gap_rank, document_id
        """
    ).fetchall()
    return [
        GapDocument(str(title), url, int(n), tuple(categories or ()))
        for title, url, n, categories in rows
    ]


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


def _present(*sections: str) -> list[str]:
    """The sections that have something to show (an empty string is no section)."""
    return [section for section in sections if section]
