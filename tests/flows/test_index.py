"""The `index` flow: incremental upserts, deletions, embedder switches, the stage entry."""

from __future__ import annotations

from dataclasses import replace

import pytest

from assistant.db import connect
from assistant.knowledge.embedders.base import EmbeddingError
from assistant.knowledge.embedders.remote import OpenAIEmbedder
from assistant.knowledge.index.chunking import KbDocument
from assistant.knowledge.index.indexing import index_documents
from assistant.knowledge.index.store import IndexStoreError, KnowledgeStore
from assistant.knowledge.search.retrieval import Retriever
from flows.index import artifact_rows, index_chunks, load_documents
from tests.knowledge.kb_helpers import beir_mini, offline_settings, write_mart

pytestmark = pytest.mark.db

DOCS = [d for d in beir_mini().docs if d.document_id.endswith(("1001", "1006", "5002", "5005"))]


def embedding_calls(fake_llm) -> int:
    return sum(1 for r in fake_llm.requests if r["path"] == "/v1/embeddings")


def run(url: str, settings, full: bool = False):
    return index_chunks(url, load_documents(url), settings, full)


def states(url: str) -> dict:
    with connect(url) as conn:
        return KnowledgeStore(conn).chunk_states()


def test_incremental_runs_embed_only_changes(database_url: str, fake_llm) -> None:
    remote = offline_settings(embedding_base_url=fake_llm.base_url, embedding_model="fake-embed")
    with connect(database_url, autocommit=True) as conn:
        write_mart(conn, DOCS)
    first = run(database_url, remote)
    assert first.documents == 4
    assert first.embedded == first.chunks > 4
    assert first.embedder == "openai:fake-embed@d32"
    calls = embedding_calls(fake_llm)

    second = run(database_url, remote)
    assert embedding_calls(fake_llm) == calls  # nothing changed: no embedding call at all
    assert (second.embedded, second.skipped, second.deleted) == (0, first.chunks, 0)

    page, pausing, ticket, _bot = DOCS
    edited = replace(page, body=page.body + "<h2>Новый раздел</h2><p>Проверьте роль.</p>")
    recategorised = replace(pausing, category_code="other")
    with connect(database_url, autocommit=True) as conn:
        write_mart(conn, [edited, recategorised, replace(ticket, is_deleted=True)])
    third = run(database_url, remote)
    assert third.embedded == 1
    assert third.metadata_updated >= 1
    assert third.deleted == 2 + 2  # the deleted ticket's and the dropped ticket's chunks
    assert embedding_calls(fake_llm) == calls + 1
    left = {cid.split("#")[0] for cid in states(database_url)}
    assert left == {page.document_id, pausing.document_id}

    with connect(database_url) as conn:
        hits = Retriever.open(conn, remote).search("роль с заместителями", k=3, category="other")
    assert hits.hits
    assert all(h.category_code == "other" for h in hits.hits)


def test_switching_to_local_reembeds_everything(database_url: str) -> None:
    local = offline_settings()
    report = run(database_url, local)
    assert report.refitted
    assert report.embedded == report.chunks
    assert report.embedder.startswith("local-tfidf-svd@")
    assert {s.embedder for s in states(database_url).values()} == {report.embedder}
    again = run(database_url, local, full=True)  # same corpus → same version → no work
    assert (again.embedded, again.refitted, again.embedder) == (0, False, report.embedder)
    with connect(database_url) as conn:
        result = Retriever.open(conn, local).search("кнопка согласовать серая", k=3)
    assert result.embedder == report.embedder
    assert result.hits
    assert "vector" in result.hits[0].leg_scores


def test_failed_embedding_leaves_the_index_unchanged(database_url: str) -> None:
    before = states(database_url)
    dead = OpenAIEmbedder(
        base_url="http://127.0.0.1:9/v1", model="m", dim=8, max_attempts=1, sleep=lambda _: None
    )
    with connect(database_url) as conn:
        docs = KnowledgeStore(conn).load_documents()
        with pytest.raises(EmbeddingError):
            index_documents(KnowledgeStore(conn), docs, offline_settings(), embedder=dead)
    assert states(database_url) == before


def test_empty_input_does_not_wipe_the_index(database_url: str) -> None:
    with connect(database_url) as conn, pytest.raises(IndexStoreError, match="refusing"):
        index_documents(KnowledgeStore(conn), [], offline_settings())
    assert states(database_url)


def test_invalid_rows_are_skipped_and_counted(database_url: str) -> None:
    bad = KbDocument("", "confluence", "без id", "", "<p>текст</p>")
    with connect(database_url) as conn:
        docs = [*KnowledgeStore(conn).load_documents(), bad]
        report = index_documents(KnowledgeStore(conn), docs, offline_settings())
        conn.commit()
    assert report.invalid_documents == 1
    assert report.embedded == 0
    rows = {row["metric"]: row["value"] for row in artifact_rows(report)}
    assert rows["chunks embedded"] == "0"
    assert rows["documents skipped as invalid"] == "1"


@pytest.mark.slow
@pytest.mark.prefect
def test_stage_run_runs_the_prefect_flow(database_url: str) -> None:
    from flows.index import run as index_stage
    from flows.runtime import Runtime
    from flows.settings import FlowSettings

    settings = FlowSettings(_env_file=None, database_url=database_url)  # type: ignore[call-arg]
    summary = index_stage(Runtime(settings=settings))
    assert summary["documents"] == 2
    assert summary["embedded"] == 0
    assert summary["skipped"] == summary["chunks"] > 0
