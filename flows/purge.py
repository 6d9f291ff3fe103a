"""Prefect flow `purge`: the nightly retention purge (assistant/retention.py).

The last stage of the daily refresh: finished inbox jobs lose their payload and token,
old dead letters and superseded raw versions are deleted, each after the configured
number of days (INBOX_RETENTION_DAYS, RAW_HISTORY_RETENTION_DAYS; docs/privacy.md).
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from assistant.db import connect
from assistant.retention import RetentionPolicy, purge
from flows.artifacts import publish_summary
from flows.runtime import Runtime, current_runtime
from flows.steps import stage_step

ARTIFACT_KEY = "purge-summary"


def purge_now(url: str, policy: RetentionPolicy) -> dict[str, Any]:
    """One transaction: either the whole purge applies or none of it."""
    with connect(url) as conn:
        summary = purge(conn, policy)
        conn.commit()
    return {**summary, "inbox_days": policy.inbox_days, "raw_days": policy.raw_history_days}


@flow(name="purge")
def purge_flow() -> dict[str, Any]:
    """Remove what the retention settings no longer allow to keep; ends with an artifact."""
    runtime = current_runtime()
    settings = runtime.settings
    policy = RetentionPolicy(settings.inbox_retention_days, settings.raw_history_retention_days)
    summary = stage_step("purge-expired", purge_now, runtime.database_url(), policy)
    publish_summary(ARTIFACT_KEY, summary, "purge: personal data past its retention")
    return summary


def run(runtime: Runtime) -> dict[str, Any]:
    """`kb refresh --only purge`."""
    with runtime.active():
        return purge_flow()
