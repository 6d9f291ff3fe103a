"""Prefect flow `transform`: build the dbt project (raw → staging → intermediate → marts).

One task runs `dbt build` in-process (flows/dbt_runner.py), an optional second one
generates the docs site. The flow ends with a table artifact under the stable key
`kb-transform` and raises when a model or a dbt test failed, naming the failing tests.
The database URL never becomes a flow parameter (it may hold a password): the flow takes
it from `current_runtime()` (flows/runtime.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows import dbt_runner
from flows.runtime import Runtime, current_runtime

ARTIFACT_KEY = "kb-transform"


def work_dir(runtime: Runtime) -> Path:
    """Where dbt writes target/ and logs/: under the data dir, never in the project."""
    return Path(runtime.settings.kb_data_dir).resolve() / "dbt"


@task(name="dbt-build", cache_policy=NO_CACHE)
def dbt_build(runtime: Runtime, full_refresh: bool) -> dict[str, Any]:
    """Seeds, models and tests in DAG order; failures are reported, not raised, here."""
    summary = dbt_runner.build(
        runtime.database_url(),
        work_dir=work_dir(runtime),
        full_refresh=full_refresh,
        raise_on_failure=False,
        dbt_vars={
            "pyrus_task_url_prefix": runtime.settings.pyrus_task_url_prefix,
            # kept by mask_pii in kb_documents (marts/knowledge/kb_public_contacts.sql)
            "public_contacts": runtime.settings.public_contacts,
        },
    )
    return summary.as_dict()


@task(name="dbt-docs-generate", cache_policy=NO_CACHE)
def dbt_docs(runtime: Runtime) -> str:
    """The docs site (target/static_index.html: manifest and catalog inside, opens from disk)."""
    return str(dbt_runner.docs_generate(runtime.database_url(), work_dir=work_dir(runtime)))


def artifact_rows(summary: dbt_runner.DbtRunSummary) -> list[dict[str, Any]]:
    """One row per counter, then one per failing or warning test."""
    rows: list[dict[str, Any]] = [
        {"metric": name, "value": value} for name, value in summary.counts().items()
    ]
    rows.append({"metric": "seconds", "value": summary.elapsed_seconds})
    rows += [{"metric": "failing test", "value": name} for name in summary.failing_tests]
    rows += [{"metric": "warning test", "value": name} for name in summary.warning_tests]
    return rows


@flow(name="transform")
def transform(full_refresh: bool = False, docs: bool = False) -> dict[str, Any]:
    """dbt build (+ docs generate); raises DbtTestFailure / DbtRunError on failures."""
    log = get_run_logger()
    runtime = current_runtime()
    summary = dbt_runner.DbtRunSummary(**dbt_build(runtime, full_refresh))
    result = summary.as_dict()
    if docs and summary.success and not summary.failing_tests:
        result["docs_index"] = dbt_docs(runtime)
    create_table_artifact(
        table=artifact_rows(summary),
        key=ARTIFACT_KEY,
        description=f"dbt build: {'ok' if summary.success else 'FAILED'}",
    )
    log.info("transform: %s", summary.counts())
    dbt_runner.raise_for_failures(summary)
    return result


def run(runtime: Runtime) -> dict[str, Any]:
    """`kb refresh --only transform [--full]`: counts of what dbt built and tested.

    `--full` rebuilds with --full-refresh. Raises DbtTestFailure naming failing tests.
    """
    with runtime.active():
        result = transform(full_refresh=runtime.full)
    return dbt_runner.DbtRunSummary(
        **{key: value for key, value in result.items() if key != "docs_index"}
    ).brief()
