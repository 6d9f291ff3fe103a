"""The daily parent flow `kb-refresh`: every stage as a named subflow, one summary.

Order (`flows.stages.REFRESH_ORDER`): extract → transform (dbt) → categorize → index →
replay (bot decisions for tickets the bot has not seen) → marts (dbt again, so the marts
see categories and suggestions) → label (the documents staff used in resolved tickets) →
tune (refit retrieval on those labels) → score (draft outcomes) → effect (statistics) →
purge (retention: assistant/retention.py). `docs/architecture.md` §4 lists each stage's
module and artifact. A failing stage does not block the stages that can still run: the
knowledge base refreshes from what did load,
and the run ends failed naming what broke. A stage whose prerequisite stage could not
start (`flows.stages.DEPENDS`) is skipped with one line instead of failing a second time.

`run_stages` is the sequencing without Prefect's parent flow (`kb refresh --only` uses
it too); it reports each finished stage to `runtime.on_stage` (the CLI prints a line).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from assistant.db import connect
from assistant.errors import ConfigError, KbError
from assistant.sources.landing import rewind_watermarks
from flows.artifacts import one_line, wide_table
from flows.runtime import Runtime, current_runtime
from flows.stages import (
    DEPENDS,
    REFRESH_ORDER,
    check_stage_names,
    stage_check,
    stage_runner,
)

SUMMARY_ARTIFACT_KEY = "kb-refresh-summary"


class RefreshFailed(KbError):
    """One or more stages failed; the message names them."""


@dataclass
class StageResult:
    """How one stage ended: ok, failed (with a one-line reason) or skipped (and why)."""

    name: str
    status: str
    seconds: float = 0.0
    summary: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    exception: BaseException | None = field(default=None, repr=False)

    @property
    def blocks_dependents(self) -> bool:
        if self.status == "skipped":
            return True
        # a missing prerequisite means nothing to build on; other failures leave what loaded
        return self.status == "failed" and isinstance(self.exception, ConfigError)

    def what(self) -> str:
        """The stage's outcome in words: its counts, or the reason it failed or was skipped."""
        return self.error if self.status != "ok" else one_line(self.summary)

    def as_row(self) -> dict[str, str]:
        seconds = f"{self.seconds:.1f}" if self.status != "skipped" else ""
        return {"stage": self.name, "status": self.status, "seconds": seconds, "what": self.what()}


def summary_table_rows(results: list[StageResult]) -> list[dict[str, str]]:
    """The run summary artifact: stage, status, seconds, reason, then one column per count."""
    return wide_table(
        [
            (
                {
                    "stage": r.name,
                    "status": r.status,
                    "seconds": r.as_row()["seconds"],
                    "reason": r.error,
                },
                {key: value for key, value in r.summary.items() if key != "seconds"},
            )
            for r in results
        ]
    )


def one_line_error(exc: BaseException) -> str:
    """An exception as one line: our own errors by message, others with their type."""
    text = " ".join(str(exc).split())
    if not isinstance(exc, KbError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text[:600]


def rewind(runtime: Runtime) -> int:
    """Move the extract watermarks back to `runtime.since` (midnight UTC) for a backfill."""
    if runtime.since is None:
        return 0
    moment = datetime.combine(runtime.since, datetime.min.time(), tzinfo=UTC)
    with connect(runtime.database_url()) as conn:
        return rewind_watermarks(conn, moment)


def _blocker(name: str, done: dict[str, StageResult]) -> str | None:
    deps = DEPENDS.get(name, ())
    return next((dep for dep in deps if dep in done and done[dep].blocks_dependents), None)


def run_stages(runtime: Runtime, names: list[str] | tuple[str, ...]) -> list[StageResult]:
    """Run the stages in order; a stage whose prerequisite did not complete is skipped."""
    check_stage_names(names)
    done: dict[str, StageResult] = {}
    for name in names:
        blocker = _blocker(name, done)
        if blocker is not None:
            result = StageResult(name, "skipped", error=f"{blocker} did not complete")
        else:
            started = time.monotonic()
            try:
                result = StageResult(name, "ok", summary=stage_runner(name)(runtime))
            except Exception as exc:  # a failed stage is reported, the next ones still run
                result = StageResult(name, "failed", error=one_line_error(exc), exception=exc)
            result.seconds = time.monotonic() - started
        done[name] = result
        if runtime.on_stage is not None:
            runtime.on_stage(result)
    return list(done.values())


def nothing_can_run(runtime: Runtime, names: list[str] | tuple[str, ...]) -> list[StageResult]:
    """When no stage could start — each misses a prerequisite or depends on one that does —
    their results (reported like a run); else []. Cheap: Prefect does not start for it."""
    done: dict[str, StageResult] = {}
    for name in names:
        blocker = _blocker(name, done)
        if blocker is not None:
            done[name] = StageResult(name, "skipped", error=f"{blocker} did not complete")
            continue
        check = stage_check(name)
        try:
            if check is None:
                return []
            check(runtime)
        except ConfigError as exc:
            done[name] = StageResult(name, "failed", error=one_line_error(exc), exception=exc)
            continue
        return []
    for result in done.values():
        if runtime.on_stage is not None:
            runtime.on_stage(result)
    return list(done.values())


def raise_for_failures(results: list[StageResult]) -> None:
    """`RefreshFailed` naming the failed stages (and how many were skipped)."""
    failed = [r for r in results if r.status == "failed"]
    if not failed:
        return
    skipped = sum(r.status == "skipped" for r in results)
    reasons = "; ".join(f"{r.name}: {r.error}" for r in failed)
    tail = f", {skipped} skipped" if skipped else ""
    raise RefreshFailed(f"{len(failed)} stage(s) failed{tail} — {reasons}")


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
    names = list(stages or REFRESH_ORDER)
    check_stage_names(names)
    runtime = current_runtime().with_options(full=full, since=since)
    runtime.database_url()  # migrations: once for the whole refresh
    rewind(runtime)
    results = run_stages(runtime, names)
    for result in results:
        log = logger.info if result.status == "ok" else logger.error
        log("stage %s %s in %.1fs: %s", result.name, result.status, result.seconds, result.what())
    create_table_artifact(
        key=SUMMARY_ARTIFACT_KEY,
        table=summary_table_rows(results),
        description="kb-refresh: each stage's status, seconds and counts (one column each)",
    )
    raise_for_failures(results)
    return {r.name: {"status": r.status, "seconds": r.seconds, **r.summary} for r in results}
