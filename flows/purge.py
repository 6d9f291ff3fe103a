"""Prefect flow `purge`: the nightly retention purge (assistant/retention.py).

The last stage of the daily refresh: finished inbox jobs lose their payload and token,
old dead letters and superseded raw versions are deleted, each after the configured
number of days (INBOX_RETENTION_DAYS, RAW_HISTORY_RETENTION_DAYS; docs/privacy.md).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from assistant.db import connect
from assistant.retention import RetentionPolicy, purge
from flows.artifacts import publish_summary
from flows.runtime import Runtime, current_runtime

ARTIFACT_KEY = "purge-summary"


def purge_now(url: str, policy: RetentionPolicy) -> dict[str, Any]:
    """One transaction: either the whole purge applies or none of it."""
    with connect(url) as conn:
        summary = purge(conn, policy)
        conn.commit()
    return {**summary, "inbox_days": policy.inbox_days, "raw_days": policy.raw_history_days}


@task(name="purge-expired", retries=1, retry_delay_seconds=10, cache_policy=NO_CACHE)
def purge_task(url: str, policy: RetentionPolicy) -> dict[str, Any]:
    return purge_now(url, policy)


@flow(name="purge")
def purge_flow() -> dict[str, Any]:
    """Remove what the retention settings no longer allow to keep; ends with an artifact."""
    runtime = current_runtime()
    settings = runtime.settings
    policy = RetentionPolicy(settings.inbox_retention_days, settings.raw_history_retention_days)
    summary = purge_task(runtime.database_url(), policy)
    publish_summary(ARTIFACT_KEY, summary, "purge: personal data past its retention")
    return summary


def run(runtime: Runtime) -> dict[str, Any]:
    """`kb refresh --only purge`."""
    with runtime.active():
        return purge_flow()
