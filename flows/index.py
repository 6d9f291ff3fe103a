"""Prefect flow `index`: marts.kb_documents → chunks → embeddings → kb.chunks.

Incremental by default: only new or changed chunks are embedded, chunks of deleted
documents are removed, a run with no changes makes no embedding call. `full=True`
refits the local embedder (same corpus → same version → still nothing re-embedded).
The flow ends with a table artifact under the stable key `kb-index`.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from assistant.db import connect
from assistant.knowledge.index.chunking import KbDocument
from assistant.knowledge.index.indexing import IndexReport, index_documents
from assistant.knowledge.index.store import KnowledgeStore
from assistant.progress import NO_PROGRESS, Progress
from assistant.settings import AssistantSettings
from flows.progress import progress_bar
from flows.runtime import Runtime, current_runtime

ARTIFACT_KEY = "kb-index"


@task(name="load-kb-documents", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
def load_documents(database_url: str) -> list[KbDocument]:
    """Read the dbt mart (a DB boundary: retried on transient failures)."""
    with connect(database_url) as conn:
        return KnowledgeStore(conn).load_documents()


@task(name="index-chunks", cache_policy=NO_CACHE)
def index_chunks(
    database_url: str,
    docs: list[KbDocument],
    settings: AssistantSettings,
    full: bool,
    progress: Progress = NO_PROGRESS,
) -> IndexReport:
    """Chunk, embed what changed and write it (one transaction; not retried as a whole:
    the embedder retries its own HTTP calls, and a failure leaves the index unchanged)."""
    with connect(database_url) as conn:
        store = KnowledgeStore(conn)
        report = index_documents(store, docs, settings, full=full, progress=progress)
        conn.commit()
        if report.embedded or report.deleted or report.metadata_updated:
            conn.autocommit = True
            store.vacuum()
    return report


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
    docs = load_documents(database_url)
    with progress_bar(runtime.progress, "index: embedding", "chunks") as progress:
        report = index_chunks(database_url, docs, runtime.settings, full, progress)
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
