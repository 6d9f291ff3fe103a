"""Prefect flow `index`: marts.kb_documents → chunks → embeddings → kb.chunks.

Incremental by default: only new or changed chunks are embedded, chunks of deleted
documents are removed, a run with no changes makes no embedding call. `full=True`
refits the local embedder (same corpus → same version → still nothing re-embedded).
The flow ends with a table artifact under the stable key `kb-index`.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from assistant.db import connect
from assistant.knowledge.index.chunking import KbDocument
from assistant.knowledge.index.indexing import IndexReport, index_documents
from assistant.knowledge.index.store import KnowledgeStore
from assistant.progress import NO_PROGRESS, Progress
from assistant.settings import AssistantSettings
from flows.progress import progress_bar
from flows.runtime import Runtime, current_runtime
from flows.steps import stage_step

ARTIFACT_KEY = "kb-index"


def load_documents(database_url: str) -> list[KbDocument]:
    """Read the dbt mart (a DB boundary: retried on transient failures)."""
    with connect(database_url) as conn:
        return KnowledgeStore(conn).load_documents()


def index_chunks(
    database_url: str,
    docs: list[KbDocument],
    settings: AssistantSettings,
    full: bool,
    progress: Progress = NO_PROGRESS,
) -> IndexReport:
    """Chunk, embed what changed and write it, in one transaction: a failure leaves the
    index unchanged, so the stage helper may run it again after a lost connection (the
    embedder retries its own HTTP calls)."""
    with connect(database_url) as conn:
        store = KnowledgeStore(conn)
        report = index_documents(store, docs, settings, full=full, progress=progress)
        conn.commit()
        if report.embedded or report.deleted or report.metadata_updated:
            conn.autocommit = True
            store.vacuum()
    return report


def index_boundary(
    database_url: str, docs: list[KbDocument], full: bool, progress: Progress
) -> IndexReport:
    """`index_chunks` with the active runtime's settings (task parameters are stored)."""
    return index_chunks(database_url, docs, current_runtime().settings, full, progress)


def artifact_rows(report: IndexReport) -> list[dict[str, Any]]:
    """The artifact table: one row per counter, readable in the Prefect UI."""
    labels = {
        "documents": "documents indexed",
        "deleted_documents": "documents marked deleted",
        "invalid_documents": "documents skipped as invalid",
        "chunks": "chunks in the index",
        "embedded": "chunks embedded",
        "skipped": "chunks unchanged (skipped)",
        "metadata_updated": "chunks with metadata updated",
        "deleted": "chunks deleted",
        "embedder": "embedder",
        "refitted": "local embedder refitted",
        "seconds": "seconds",
    }
    values = report.as_dict()
    return [{"metric": label, "value": str(values[key])} for key, label in labels.items()]


@flow(name="index", log_prints=False)
def index_flow(full: bool = False) -> dict[str, object]:
    """Bring kb.chunks in line with marts.kb_documents."""
    logger = get_run_logger()
    runtime = current_runtime()
    database_url = runtime.database_url()
    docs = stage_step("load-kb-documents", load_documents, database_url)
    with progress_bar(runtime.progress, "index: embedding", "chunks") as progress:
        report = stage_step("index-chunks", index_boundary, database_url, docs, full, progress)
    create_table_artifact(
        key=ARTIFACT_KEY,
        table=artifact_rows(report),
        description="kb index: documents and chunks embedded / skipped / deleted",
    )
    logger.info(
        "index: %d chunks embedded, %d skipped, %d deleted in %.1fs",
        report.embedded,
        report.skipped,
        report.deleted,
        report.seconds,
    )
    return report.as_dict()


def run(runtime: Runtime) -> dict[str, object]:
    """`kb refresh --only index [--full]` (the stage contract: flows/stages.py)."""
    with runtime.active():
        return index_flow(full=runtime.full)
