"""The index tables: scratch schemas, upserts, postings, the search legs, embedder rows."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import psycopg
import pytest

from assistant.db import connect
from assistant.knowledge.embedders.base import EmbedderRecord
from assistant.knowledge.index.chunking import KbDocument, chunk_document
from assistant.knowledge.index.store import IndexStoreError, KnowledgeStore

pytestmark = pytest.mark.db

DOCS = [
    KbDocument(
        "confluence:1",
        "confluence",
        "Ошибка 429 too_many_requests",
        "https://w/1",
        "<p>API ограничивает число запросов, ответ HTTP 429 too_many_requests.</p>",
        "integrations_api",
    ),
    KbDocument(
        "confluence:2",
        "confluence",
        "Кнопка «Согласовать» неактивна",
        "https://w/2",
        "<p>Не заполнено обязательное поле на этапе согласования.</p>",
        "forms_fields",
    ),
    KbDocument(
        "pyrus:3",
        "pyrus",
        "Заявки висят у директора",
        "https://p/3",
        "Вопрос: Директор в отпуске, заявки на согласовании стоят.\n"
        "Решение: Назначили этап на роль с заместителем.",
        "routing_approvals",
    ),
]


@pytest.fixture(scope="module")
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def store(conn: psycopg.Connection) -> Iterator[KnowledgeStore]:
    scratch = KnowledgeStore.create_scratch(conn, "kb_store_test")
    yield scratch
    scratch.drop()


def fill(store: KnowledgeStore, key: str = "m@1", dim: int = 4) -> list:
    chunks = [c for doc in DOCS for c in chunk_document(doc)]
    vectors = np.eye(len(chunks), dim, dtype=np.float32) + 0.01
    store.write_chunks(chunks, vectors, key)
    store.refresh_stats()
    return chunks


def test_scratch_schema_is_separate_from_kb(store: KnowledgeStore, conn) -> None:
    fill(store)
    assert store.count_chunks() == 4
    assert KnowledgeStore(conn, "kb").count_chunks() == 0
    with pytest.raises(IndexStoreError):
        KnowledgeStore.create_scratch(conn, "kb")
    with pytest.raises(IndexStoreError):
        KnowledgeStore(conn, "kb").drop()


def test_bm25_ranks_by_terms_and_reports_coverage(store: KnowledgeStore) -> None:
    from assistant.knowledge.text import terms

    fill(store)
    rows = store.bm25_search(terms("заявки стоят на согласовании у директора"), limit=5)
    assert rows[0][0].startswith("pyrus:3#")
    assert all(0 < coverage < 1 for _, _, coverage in rows)
    assert rows[0][1] >= rows[-1][1]
    filtered = store.bm25_search(terms("согласование"), limit=5, source="confluence")
    assert filtered
    assert all(cid.startswith("confluence:") for cid, _, _ in filtered)
    assert store.bm25_search(terms("и на в"), limit=5) == []  # stop words only


def test_exact_tokens_leg(store: KnowledgeStore) -> None:
    fill(store)
    rows = store.exact_search(["too_many_requests", "e42"], limit=5)
    assert [cid.split("#")[0] for cid, _ in rows] == ["confluence:1"]
    assert rows[0][1] == pytest.approx(0.5)


def test_vector_leg_never_mixes_embedders(store: KnowledgeStore) -> None:
    chunks = fill(store, key="m@1", dim=4)
    other = chunks[:1]
    store.write_chunks(
        [c.__class__(**{**c.__dict__, "chunk_id": c.chunk_id + "-x"}) for c in other],
        np.ones((1, 6), dtype=np.float32),
        "m@2",
    )
    query = np.eye(1, 4, dtype=np.float32)[0] + 0.01
    rows = store.vector_search("m@1", 4, query, limit=10)
    assert len(rows) == 4
    assert rows[0][0] == chunks[0].chunk_id
    assert rows[0][1] == pytest.approx(1.0, abs=1e-4)
    rows2 = store.vector_search("m@2", 6, np.ones(6, dtype=np.float32), limit=10)
    assert [r[0] for r in rows2] == [chunks[0].chunk_id + "-x"]
    by_category = store.vector_search("m@1", 4, query, limit=10, category="routing_approvals")
    assert {r[0].split("#")[0] for r in by_category} == {"pyrus:3"}


def test_metadata_only_write_keeps_vectors(store: KnowledgeStore) -> None:
    chunks = fill(store)
    moved = chunks[0].__class__(**{**chunks[0].__dict__, "url": "https://w/new"})
    store.write_chunks([moved], None, None)
    state = store.chunk_states()[moved.chunk_id]
    assert state.embedder == "m@1"
    assert store.fetch([moved.chunk_id])[moved.chunk_id]["url"] == "https://w/new"
    assert store.vector_search("m@1", 4, np.ones(4, dtype=np.float32), limit=10)


def test_delete_removes_chunks_and_postings(store: KnowledgeStore, conn) -> None:
    chunks = fill(store)
    assert store.delete_chunks([chunks[0].chunk_id]) == 1
    left = conn.execute(
        "select count(*) from kb_store_test.chunk_terms where chunk_id = %s",
        (chunks[0].chunk_id,),
    ).fetchone()
    assert left == (0,)
    assert store.delete_chunks([]) == 0


def test_embedder_records_and_hnsw_index(store: KnowledgeStore, conn) -> None:
    fill(store)
    store.save_embedder(EmbedderRecord("m", "1", "local", 4, {"a": 1}, b"blob"))
    store.save_embedder(EmbedderRecord("m", "2", "local", 6, {}, b"blob2"))
    store.activate_embedder("m", "1")
    store.activate_embedder("m", "2")
    active = store.get_embedder(active=True)
    assert active is not None
    assert active.key == "m@2"
    assert active.artifact == b"blob2"
    assert store.get_embedder("m", "1").params == {"a": 1}
    assert store.has_embedder("m", "1")
    assert not store.has_embedder("m", "3")
    store.ensure_vector_index("m@1", 4)
    store.ensure_vector_index("m@1", 4)  # idempotent
    indexes = conn.execute(
        "select indexdef from pg_indexes where schemaname = 'kb_store_test' "
        "and indexdef like '%%hnsw%%'"
    ).fetchall()
    assert len(indexes) == 1
    assert "'m@1'" in indexes[0][0]


def test_missing_mart_is_a_clear_error(store: KnowledgeStore) -> None:
    with pytest.raises(IndexStoreError, match="does not exist"):
        store.load_documents("marts.no_such_table")


def test_unknown_query_words_lower_coverage(store: KnowledgeStore) -> None:
    from assistant.knowledge.text import terms

    fill(store)
    known = store.bm25_search(terms("директор"), limit=1)[0][2]
    mixed = store.bm25_search(terms("директор борщ фасоль говядина"), limit=1)[0][2]
    assert mixed < known / 2  # off-topic words count against the match


def test_knn_uses_the_embedders_hnsw_index(store: KnowledgeStore, conn) -> None:
    fill(store)
    store.ensure_vector_index("m@1", 4)
    conn.execute("set enable_seqscan = off")  # a 4-row table: make the choice visible
    try:
        plan = store.vector_plan("m@1", 4, np.ones(4, dtype=np.float32))
    finally:
        conn.execute("reset enable_seqscan")
    assert "chunks_hnsw_" in plan


def test_vacuum_needs_autocommit(store: KnowledgeStore, database_url: str) -> None:
    fill(store)
    store.vacuum()  # the module connection is autocommit
    with connect(database_url) as plain, pytest.raises(IndexStoreError, match="autocommit"):
        KnowledgeStore(plain, "kb_store_test").vacuum()


def test_very_common_terms_are_skipped_unless_alone(store: KnowledgeStore) -> None:
    from assistant.knowledge.text import terms

    fill(store)  # every chunk title/body is about one of three topics; "директор" is rare
    common = terms("согласовании")  # in 3 of 4 chunks
    rare = terms("директор")
    everything = store.bm25_search(common + rare, limit=10)
    pruned = store.bm25_search(common + rare, limit=10, max_df_ratio=0.5)
    assert len(everything) > len(pruned) >= 1
    assert all(cid.startswith("pyrus:3#") for cid, _, _ in pruned)
    assert store.bm25_search(common, limit=10, max_df_ratio=0.5)  # nothing rarer: keep it


def test_pruned_postings_still_score_exactly(
    store: KnowledgeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one posting read per term, candidates shrink but keep their exact scores."""
    import assistant.knowledge.index.store as store_module
    from assistant.knowledge.text import terms

    fill(store)
    query = terms("заявки на согласовании у директора, поле согласования")
    full = store.bm25_search(query, limit=10)
    monkeypatch.setattr(store_module, "BM25_TERM_CAP", 1)
    pruned = store.bm25_search(query, limit=10)
    assert 1 <= len(pruned) < len(full)
    exact = {cid: (score, coverage) for cid, score, coverage in full}
    for cid, score, coverage in pruned:
        assert (score, coverage) == pytest.approx(exact[cid])
    assert pruned[0][0] == full[0][0]  # the top impact postings hold the best chunk


def test_document_frequencies_follow_writes_and_deletes(store: KnowledgeStore, conn) -> None:
    from assistant.knowledge.text import terms

    chunks = fill(store)

    def stored_df() -> dict[str, int]:
        rows = conn.execute("select term, df from kb_store_test.term_df").fetchall()
        return dict(rows)

    def live_df() -> dict[str, int]:
        rows = conn.execute(
            "select term, count(*) from kb_store_test.chunk_terms group by term"
        ).fetchall()
        return dict(rows)

    assert stored_df() == live_df()
    store.delete_chunks([c.chunk_id for c in chunks if c.document_id == "pyrus:3"])
    store.refresh_stats()
    assert stored_df() == live_df()
    assert "директор" not in "".join(stored_df())
    # A chunk written after the last refresh is searchable: its new terms are counted live.
    extra = chunks[0].__class__(
        **{**chunks[0].__dict__, "chunk_id": "confluence:9#0", "text": "Борщ и фасоль"}
    )
    store.write_chunks([extra], None, None)
    rows = store.bm25_search(terms("борщ"), limit=5)
    assert [row[0] for row in rows] == ["confluence:9#0"]
    assert rows[0][2] > 0
