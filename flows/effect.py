"""Prefect flow `effect`: the effect table and the HTML report.

Estimates (docs/effect-measurement.md §3–4): treatment vs holdout ratio of median FRT and
full-resolution time in business minutes, weighted to the pre-period category mix, with
bootstrap 95 % CIs and the MDE at the current sample size; per category (descriptive);
and a pre/post DiD over the hash groups. They replace `kb.effect_estimates` as a whole
(the `effect_arm_comparison` view joins them). The page (assistant/effect/report_data.py)
is written to `<KB_DATA_DIR>/reports/effect-report.html`; the Prefect artifact is a short
markdown summary with the verdict and a link to that file, not the 300 KB page inlined.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from assistant.db import connect
from assistant.effect.data import load_ticket_outcomes, replace_estimates
from assistant.effect.labels import load_labels
from assistant.effect.report_data import load_effect_rows, report_html
from assistant.effect.report_summary import summary_markdown
from assistant.effect.stats import estimate_all
from flows.runtime import Runtime, current_runtime
from flows.steps import stage_step

logger = logging.getLogger(__name__)

ESTIMATES_ARTIFACT_KEY = "effect-estimates"
REPORT_ARTIFACT_KEY = "effect-report"
N_BOOT = 2000


def estimate_effects(url: str, holdout_share: float, n_boot: int = N_BOOT) -> dict[str, Any]:
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


def report_path(runtime: Runtime) -> Path:
    """Where the effect stage writes the full HTML report (under the local state dir)."""
    return Path(runtime.settings.kb_data_dir).resolve() / "reports" / "effect-report.html"


def write_report(url: str, path: Path) -> Path:
    """The HTML report, written whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".html.partial")  # a reader never sees half a page
    partial.write_text(report_html(url), encoding="utf-8")
    partial.replace(path)
    return path


@flow(name="effect")
def effect() -> dict[str, Any]:
    """Estimate, store, render; publishes the estimates table and the report."""
    runtime = current_runtime()
    url = runtime.database_url()
    summary = stage_step(
        "estimate-effects", estimate_effects, url, runtime.settings.assistant_holdout
    )
    page = stage_step("render-effect-report", write_report, url, report_path(runtime))
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
        key=REPORT_ARTIFACT_KEY,
        markdown=summary_markdown(rows, load_labels(), page),
        description="effect: the verdict and a link to the full HTML report",
    )
    logger.info("effect report written to %s", page)
    return summary


def run(runtime: Runtime) -> dict[str, Any]:
    """`kb refresh --only effect`."""
    with runtime.active():
        return effect()
