"""Prefect flow `effect`: the effect table and the HTML report.

Estimates (docs/effect-measurement.md §3–4): treatment vs holdout ratio of median FRT and
full-resolution time in business minutes, weighted to the pre-period category mix, with
bootstrap 95 % CIs and the MDE at the current sample size; per category (descriptive);
and a pre/post DiD over the hash groups. They replace `kb.effect_estimates` as a whole
(the `effect_arm_comparison` view joins them), and the rendered report is published as
a Prefect artifact.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from assistant.db import connect
from assistant.effect import llm_health
from assistant.effect.data import load_ticket_outcomes, replace_estimates
from assistant.effect.report import ReportData, render_report
from assistant.effect.report_data import (
    load_arm_rows,
    load_effect_rows,
    load_feedback_counts,
    load_gaps,
    load_usage_counts,
    load_weekly_medians,
)
from assistant.effect.retrieval_quality import load_quality_series, section_html
from assistant.effect.stats import estimate_all
from flows.runtime import Runtime, current_runtime

logger = logging.getLogger(__name__)

ESTIMATES_ARTIFACT_KEY = "effect-estimates"
REPORT_ARTIFACT_KEY = "effect-report"
N_BOOT = 2000


def estimate_effects(url: str, *, holdout_share: float, n_boot: int = N_BOOT) -> dict[str, Any]:
    """Compute every estimate from the marts and replace the effect table."""
    with connect(url) as conn:
        outcomes = load_ticket_outcomes(conn, holdout_share)
        estimates = estimate_all(outcomes, n_boot=n_boot)
        run_id = replace_estimates(conn, estimates)
        conn.commit()
    headline = next(
        (
            e
            for e in estimates
            if e.metric == "frt_bm"
            and e.segment == "ALL"
            and e.comparison == "treatment_vs_holdout"
        ),
        None,
    )
    logger.info("effect run %s: %d estimate(s)", run_id, len(estimates))
    summary: dict[str, Any] = {"run_id": str(run_id), "estimates": len(estimates)}
    if headline is not None:
        summary |= {
            "frt_bm_rel_change": _round(headline.rel_change),
            "frt_bm_ci95_low": _round(headline.ci95_low),
            "frt_bm_ci95_high": _round(headline.ci95_high),
            "frt_bm_mde_80": _round(headline.mde_80),
            "n_treated": headline.n_treated,
            "n_holdout": headline.n_control,
        }
    return summary


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def report_html(url: str, *, planted_effect: float | None = None) -> str:
    """The self-contained HTML report from the stored estimates and the marts."""
    with connect(url) as conn:
        data = ReportData(
            generated_at=datetime.now(UTC),
            effects=load_effect_rows(conn),
            weekly=load_weekly_medians(conn),
            usage_counts=load_usage_counts(conn),
            gaps=load_gaps(conn),
            planted_effect=planted_effect,
            arm_rows=load_arm_rows(conn),
            feedback_counts=load_feedback_counts(conn),
            retrieval_section=section_html(load_quality_series(conn))
            + llm_health.section_html(llm_health.load_llm_health(conn)),
        )
    return render_report(data)


@task(name="estimate-effects", retries=1, retry_delay_seconds=10, cache_policy=NO_CACHE)
def estimate_task(url: str, holdout_share: float) -> dict[str, Any]:
    return estimate_effects(url, holdout_share=holdout_share)


@task(name="render-effect-report", cache_policy=NO_CACHE)
def report_task(url: str) -> str:
    return report_html(url)


@flow(name="effect")
def effect() -> dict[str, Any]:
    """Estimate, store, render; publishes the estimates table and the report."""
    runtime = current_runtime()
    url = runtime.database_url()
    summary = estimate_task(url, runtime.settings.assistant_holdout)
    page = report_task(url)
    with connect(url) as conn:
        rows = load_effect_rows(conn)
    create_table_artifact(
        key=ESTIMATES_ARTIFACT_KEY,
        table=[
            {
                "metric": r.metric,
                "segment": r.segment,
                "comparison": r.comparison,
                "n_control": r.n_control,
                "n_treated": r.n_treated,
                "rel_change": _round(r.rel_change),
                "ci95": f"[{_round(r.ci95_low)}; {_round(r.ci95_high)}]",
                "mde_80": _round(r.mde_80),
            }
            for r in rows
        ],
        description="effect: estimates with bootstrap 95% CIs (kb.effect_estimates)",
    )
    create_markdown_artifact(
        key=REPORT_ARTIFACT_KEY, markdown=page, description="effect: the HTML report"
    )
    return summary


def run(runtime: Runtime) -> dict[str, Any]:
    """`kb refresh --only effect`."""
    with runtime.active():
        return effect()
