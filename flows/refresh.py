"""The daily parent flow `kb-refresh`: every stage as a named subflow, one summary.

Order: extract → transform (dbt) → categorize → index → replay (bot decisions for
tickets the bot has not seen) → marts (dbt again, so the marts see categories and
suggestions) → score (draft outcomes) → effect (statistics). A failing stage does not
block the stages that can still run: the knowledge base refreshes from what did load,
and the run ends failed naming what broke.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.runtime import Runtime
from flows.stages import REFRESH_ORDER, stage_runner
from flows.watermarks import rewind_watermarks

SUMMARY_ARTIFACT_KEY = "kb-refresh-summary"


class RefreshFailed(RuntimeError):
    """One or more stages failed; the message names them."""


def _summary_markdown(results: dict[str, dict[str, Any]]) -> str:
    lines = ["| stage | status | seconds | summary |", "|---|---|---|---|"]
    for name, result in results.items():
        details = ", ".join(
            f"{key}={value}" for key, value in result.get("summary", {}).items() if key != "seconds"
        )
        lines.append(
            f"| {name} | {result['status']} | {result.get('seconds', 0):.1f} | "
            f"{details or result.get('error', '')} |"
        )
    return "\n".join(lines)


@flow(name="kb-refresh", log_prints=False)
def kb_refresh(
    full: bool = False, since: str | None = None, stages: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Run the whole daily refresh; see the module docstring for the order.

    `full` re-reads every source from the beginning; `since` (ISO date) moves the
    extract watermarks back to that date first — the backfill deployment's parameters.
    """
    logger = get_run_logger()
    runtime = Runtime.from_environment()
    url = runtime.database_url()
    if since:
        rewind_watermarks(url, since)
    results: dict[str, dict[str, Any]] = {}
    for name in stages or REFRESH_ORDER:
        started = time.monotonic()
        try:
            summary = stage_runner(name)(runtime, full=full)
            results[name] = {"status": "ok", "summary": summary}
        except Exception as exc:  # a failed stage is reported, the next ones still run
            logger.error("stage %s failed: %s", name, exc)
            results[name] = {"status": "failed", "error": str(exc)[:500], "summary": {}}
        results[name]["seconds"] = time.monotonic() - started
    create_markdown_artifact(
        key=SUMMARY_ARTIFACT_KEY,
        markdown=_summary_markdown(results),
        description="kb-refresh: what each stage did",
    )
    failed = [name for name, result in results.items() if result["status"] != "ok"]
    if failed:
        reasons = "; ".join(f"{name}: {results[name]['error']}" for name in failed)
        raise RefreshFailed(f"refresh finished with failed stage(s) — {reasons}")
    return results
