"""The daily parent flow `kb-refresh`: every stage as a named subflow, one summary.

Order: extract → transform (dbt) → categorize → index → replay (bot decisions for
tickets the bot has not seen) → marts (dbt again, so the marts see categories and
suggestions) → score (draft outcomes) → effect (statistics). A failing stage does not
block the stages that can still run: the knowledge base refreshes from what did load,
and the run ends failed naming what broke.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from assistant.db import connect
from flows.landing import rewind_watermarks
from flows.runtime import Runtime, current_runtime
from flows.stages import REFRESH_ORDER, stage_runner

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


def rewind(runtime: Runtime) -> int:
    """Move the extract watermarks back to `runtime.since` (midnight UTC) for a backfill."""
    if runtime.since is None:
        return 0
    moment = datetime.combine(runtime.since, datetime.min.time(), tzinfo=UTC)
    with connect(runtime.database_url()) as conn:
        return rewind_watermarks(conn, moment)


@flow(name="kb-refresh", log_prints=False)
def kb_refresh(
    full: bool = False, since: date | None = None, stages: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Run the whole daily refresh; see the module docstring for the order.

    `full` re-reads every source from the beginning; `since` (ISO date) moves the
    extract watermarks back to that date first — the backfill deployment's parameters.
    `stages` runs a subset, in the given order.
    """
    logger = get_run_logger()
    runners = {name: stage_runner(name) for name in stages or REFRESH_ORDER}  # names first
    runtime = current_runtime().with_options(full=full, since=since)
    runtime.database_url()  # migrations: once for the whole refresh
    rewind(runtime)
    results: dict[str, dict[str, Any]] = {}
    for name, run in runners.items():
        started = time.monotonic()
        try:
            summary = run(runtime)
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
