"""Prefect flow `tune`: refit retrieval weights and the no-match threshold on answer labels.

Runs after `label`. Fits on the oldest 80 % of labelled tickets, validates on the newest
20 %, stores the result as a versioned configuration and activates it only when it beats
the configuration in use on that split (assistant/knowledge/learning/tuning.py). Below 100
labelled tickets, or when it already ran today, nothing changes and the summary says
why. Ends with a table artifact of the before / after validation figures.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow
from prefect.artifacts import create_table_artifact

from assistant.bot.replay import ticket_queries
from assistant.db import connect
from assistant.knowledge.learning.tuning import tune
from assistant.knowledge.search.query_vectors import prune as prune_query_vectors
from assistant.knowledge.search.retrieval import Retriever
from assistant.settings import AssistantSettings
from flows.runtime import Runtime, current_runtime
from flows.steps import stage_step

ARTIFACT_KEY = "tune-summary"


def run_tune(url: str, settings: AssistantSettings) -> dict[str, Any]:
    """The flow's body without Prefect (tests call it directly)."""
    with connect(url) as conn:
        # the defaults calibrated for the index's embedder, with the active tuned config over them
        retriever = Retriever.open(conn, settings)
        summary = tune(
            conn,
            retriever,
            today=datetime.now(UTC).date(),
            max_queries=settings.kb_tune_max_tickets,
            query_texts=lambda ids: ticket_queries(conn, ids),
        )
        summary["query_vectors_pruned"] = prune_query_vectors(conn)
        conn.commit()
    return summary


def artifact_rows(summary: dict[str, Any]) -> list[dict[str, str]]:
    """One row per validation figure (before → after), then the decision."""
    before, after = summary.get("before") or {}, summary.get("after") or {}
    rows = [
        {"metric": key, "current": str(before.get(key, "")), "candidate": str(after.get(key, ""))}
        for key in after
    ]
    rows.append({"metric": "decision", "current": "", "candidate": str(summary["reason"])})
    return rows


def tune_boundary(url: str) -> dict[str, Any]:
    """Settings come from the active runtime, not a parameter: task parameters are stored."""
    return run_tune(url, current_runtime().settings)


@flow(name="tune")
def tune_flow() -> dict[str, Any]:
    """Refit retrieval on the labels; ends with a before/after artifact."""
    runtime = current_runtime()
    summary = stage_step("tune-retrieval", tune_boundary, runtime.database_url())
    create_table_artifact(
        key=ARTIFACT_KEY,
        table=artifact_rows(summary),
        description="tune: validation figures of the retrieval config in use vs the new fit",
    )
    return summary


def run(runtime: Runtime) -> dict[str, Any]:
    """`kb refresh --only tune` (`full` changes nothing: a fit always uses every label)."""
    with runtime.active():
        summary = tune_flow()
    return {k: v for k, v in summary.items() if k not in ("before", "after", "params")}
