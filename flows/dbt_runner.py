"""Run kb's dbt project in-process (dbtRunner) against a database URL.

dbt reads its connection from PG* variables (dbt_project/profiles.yml); they are set
from the URL for the duration of one invocation and restored afterwards. The target
and log directories go under `work_dir`, so the project tree stays clean. dbt cannot
run two invocations at once in one process, so invocations are serialised by a lock.
Knows nothing of Prefect: flows/transform.py wraps it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant.db import libpq_environment, prepare_process_environment
from assistant.errors import KbError

logger = logging.getLogger(__name__)

PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"

_INVOCATION_LOCK = threading.Lock()
_PG_VARIABLES = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSSLMODE")


class DbtRunError(KbError):
    """dbt could not run the project (bad SQL, unreachable database, a model failed)."""


class DbtTestFailure(DbtRunError):
    """dbt ran, but data tests failed; the message names every failing test."""

    def __init__(self, message: str, failing_tests: Sequence[str]) -> None:
        super().__init__(message)
        self.failing_tests = list(failing_tests)


@dataclass
class DbtRunSummary:
    """What one dbt invocation did, counted by node kind and outcome."""

    command: str
    success: bool
    seeds_loaded: int = 0
    models_built: list[str] = field(default_factory=list)
    models_failed: list[str] = field(default_factory=list)
    tests_passed: int = 0
    tests_failed: int = 0
    tests_errored: int = 0
    tests_warned: int = 0
    skipped: int = 0
    failing_tests: list[str] = field(default_factory=list)
    warning_tests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def brief(self) -> dict[str, Any]:
        """Counts plus the names of failing and warning tests: a stage summary."""
        result: dict[str, Any] = {
            key.replace(" ", "_"): value for key, value in self.counts().items()
        }
        if self.failing_tests:
            result["failing_tests"] = ", ".join(self.failing_tests)
        if self.warning_tests:
            result["warning_tests"] = ", ".join(self.warning_tests)
        result["seconds"] = self.elapsed_seconds
        return result

    def counts(self) -> dict[str, int]:
        """The numbers for an artifact table."""
        return {
            "seeds loaded": self.seeds_loaded,
            "models built": len(self.models_built),
            "models failed": len(self.models_failed),
            "tests passed": self.tests_passed,
            "tests failed": self.tests_failed,
            "tests errored": self.tests_errored,
            "tests warned": self.tests_warned,
            "skipped": self.skipped,
        }


@contextlib.contextmanager
def _pg_environment(database_url: str) -> Iterator[None]:
    """PG* variables for dbt's profile, restored on exit (tests use several databases)."""
    saved = {name: os.environ.get(name) for name in _PG_VARIABLES}
    try:
        for name in _PG_VARIABLES:
            os.environ.pop(name, None)
        os.environ.update(libpq_environment(database_url))
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _status(result: Any) -> str:
    status = getattr(result, "status", "")
    return str(getattr(status, "value", status)).lower()


def summarise(command: str, results: Sequence[Any], success: bool) -> DbtRunSummary:
    """Count dbt's per-node results (RunResult objects) into a summary."""
    summary = DbtRunSummary(command=command, success=success)
    for result in results:
        node = result.node
        kind = str(getattr(node.resource_type, "value", node.resource_type))
        name, status = node.name, _status(result)
        if status == "skipped":
            summary.skipped += 1
        elif kind == "seed" and status == "success":
            summary.seeds_loaded += 1
        elif kind in ("model", "snapshot") and status == "success":
            summary.models_built.append(name)
        elif kind in ("test", "unit_test"):
            if status == "pass":
                summary.tests_passed += 1
            elif status == "warn":
                summary.tests_warned += 1
                summary.warning_tests.append(name)
            elif status == "fail":
                summary.tests_failed += 1
                summary.failing_tests.append(name)
            else:
                summary.tests_errored += 1
                summary.failing_tests.append(name)
                summary.errors.append(f"{name}: {result.message}")
        elif status == "error":
            if kind in ("model", "snapshot"):
                summary.models_failed.append(name)
            summary.errors.append(f"{kind} {name}: {' '.join(str(result.message).split())}")
    return summary


def invoke(database_url: str, args: Sequence[str], *, work_dir: Path) -> tuple[Any, DbtRunSummary]:
    """Run one dbt command (e.g. ["build"]) and return dbt's result and a summary.

    Raises DbtRunError when dbt itself fails before running nodes (parse or connection
    errors); node failures are only counted here, see `raise_for_failures`.
    """
    prepare_process_environment()
    from dbt.cli.main import dbtRunner

    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    full_args = [
        *args,
        "--project-dir", str(PROJECT_DIR),
        "--profiles-dir", str(PROJECT_DIR),
        "--target-path", str(work_dir / "target"),
        "--log-path", str(work_dir / "logs"),
        "--log-level", "warn",
        "--log-level-file", "info",
        "--no-use-colors",
    ]  # fmt: skip
    command = " ".join(["dbt", *args])
    started = time.monotonic()
    with _INVOCATION_LOCK, _pg_environment(database_url):
        logger.info("running %s (logs in %s)", command, work_dir / "logs")
        outcome = dbtRunner().invoke(full_args)
    elapsed = round(time.monotonic() - started, 2)
    if outcome.exception is not None:
        reason = " ".join(str(outcome.exception).split())
        raise DbtRunError(f"{command} failed: {reason}")
    node_results = getattr(outcome.result, "results", None) or []
    summary = summarise(command, node_results, bool(outcome.success))
    summary.elapsed_seconds = elapsed
    logger.info("%s finished in %.1fs: %s", command, elapsed, summary.counts())
    return outcome.result, summary


def raise_for_failures(summary: DbtRunSummary) -> None:
    """DbtTestFailure naming the failing tests, or DbtRunError for failed models."""
    if summary.failing_tests:
        names = ", ".join(summary.failing_tests)
        raise DbtTestFailure(
            f"{summary.command}: {len(summary.failing_tests)} dbt test(s) failed: {names}",
            summary.failing_tests,
        )
    if summary.errors or not summary.success:
        detail = "; ".join(summary.errors) or "see the dbt log"
        raise DbtRunError(f"{summary.command} failed: {detail}")


def build(
    database_url: str,
    *,
    work_dir: Path,
    full_refresh: bool = False,
    select: Sequence[str] = (),
    indirect_selection: str | None = None,
    dbt_vars: dict[str, Any] | None = None,
    raise_on_failure: bool = True,
) -> DbtRunSummary:
    """`dbt build` (seeds, models, tests in DAG order); raises on any failure by default.

    With `select`, `indirect_selection="cautious"` keeps tests that also depend on
    unselected models out of the run.
    """
    args = ["build"]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", *select]
    if indirect_selection:
        args += ["--indirect-selection", indirect_selection]
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars)]
    _, summary = invoke(database_url, args, work_dir=work_dir)
    if raise_on_failure:
        raise_for_failures(summary)
    return summary


def docs_generate(database_url: str, *, work_dir: Path) -> Path:
    """`dbt docs generate --static`; returns `static_index.html`, which embeds the manifest
    and catalog, so it opens from disk (the plain index.html fetches manifest.json, which a
    browser blocks for file:// pages and stays at "(loading)")."""
    _, summary = invoke(database_url, ["docs", "generate", "--static"], work_dir=work_dir)
    index = Path(work_dir) / "target" / "static_index.html"
    if not summary.success or not index.exists():
        raise DbtRunError(f"dbt docs generate produced no {index}")
    return index


def compile_inline(database_url: str, sql: str, *, work_dir: Path) -> str:
    """Compile a Jinja SQL snippet in the project's context (macros, refs) to plain SQL."""
    result, summary = invoke(database_url, ["compile", "--inline", sql], work_dir=work_dir)
    nodes = getattr(result, "results", None) or []
    if not summary.success or not nodes:
        raise DbtRunError(f"dbt compile --inline failed: {'; '.join(summary.errors)}")
    return str(nodes[0].node.compiled_code)
