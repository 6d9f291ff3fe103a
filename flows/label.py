"""Prefect flow `label`: the documents staff actually used, for tickets resolved since the last run.

Runs after the `marts` stage (it reads int_ticket_dialogues, the staff texts and the
Confluence sections of the index); writes `kb.answer_labels` through
`assistant.knowledge.learning.answer_labels`. Idempotent: a rerun finds nothing new to label
and changes no row. Ends with a table artifact of the labels found.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_table_artifact

from assistant.db import connect
from assistant.knowledge.learning.answer_labels import label_resolved
from flows.runtime import Runtime, current_runtime
from flows.steps import stage_step

ARTIFACT_KEY = "label-summary"


def run_label(url: str, full: bool = False) -> dict[str, Any]:
    """The flow's body without Prefect (tests call it directly)."""
    with connect(url) as conn:
        summary = label_resolved(conn, full=full)
        conn.commit()
    return summary


@flow(name="label")
def label(full: bool = False) -> dict[str, Any]:
    """Label resolved tickets; ends with a table artifact of what was found."""
    runtime = current_runtime()
    summary = stage_step("label-resolved-tickets", run_label, runtime.database_url(), full)
    create_table_artifact(
        key=ARTIFACT_KEY,
        table=[{"metric": key, "value": str(value)} for key, value in summary.items()],
        description="label: documents staff used (links, overlap) for newly resolved tickets",
    )
    return summary


def run(runtime: Runtime) -> dict[str, Any]:
    """`kb refresh --only label [--full]` (see flows/stages.py)."""
    with runtime.active():
        return label(full=runtime.full)
