"""Hybrid search over an index built from the beir_mini fixture with the local embedder."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import psycopg
import pytest

from assistant.db import connect
from assistant.knowledge.index.indexing import index_documents
from assistant.knowledge.index.store import KnowledgeStore
from assistant.knowledge.search.config import RetrievalConfig
from assistant.knowledge.search.retrieval import Retriever, make_snippet
from assistant.knowledge.search.scoring import fuse
from tests.knowledge.kb_helpers import beir_mini, offline_settings

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with connect(database_url, autocommit=True) as connection:
        index_documents(KnowledgeStore(connection), beir_mini().docs, offline_settings())
        yield connection


@pytest.fixture(scope="module")
def retriever(conn: psycopg.Connection) -> Retriever:
    return Retriever.open(conn, offline_settings())


def docs(result) -> list[str]:
    return [hit.document_id for hit in result.hits]


def test_paraphrase_finds_the_right_page(retriever: Retriever) -> None:
    result = retriever.search("руководитель ушёл в отпуск, заявки на согласовании стоят", k=5)
    assert result.embedder.startswith("local-tfidf-svd@")
    assert not result.no_good_match
    assert docs(result)[0] in {"confluence:1006", "pyrus:5002"}
    hit = result.hits[0]
    assert hit.title
    assert hit.url.startswith("https://")
    assert hit.text
    assert set(hit.leg_scores) <= {"vector", "bm25", "exact", "trigram"}
    assert "vector" in hit.leg_scores
    assert hit.score > 0
    assert len(hit.snippet) <= 240


def test_exact_token_query(retriever: Retriever) -> None:
    result = retriever.search("ошибка too_large_request_length", k=3)
    assert docs(result)[0] == "confluence:1005"
    assert result.hits[0].leg_scores["exact"] == pytest.approx(1.0)


def test_filters_by_source_and_category(retriever: Retriever) -> None:
    tickets = retriever.search("бот дублирует комментарии", k=5, source="pyrus")
    assert tickets.hits
    assert all(hit.source == "pyrus" for hit in tickets.hits)
    assert docs(tickets)[0] == "pyrus:5005"
    pages = retriever.search("бот дублирует комментарии", k=5, category="bots_webhooks")
    assert pages.hits
    assert all(hit.category_code == "bots_webhooks" for hit in pages.hits)


def test_off_topic_and_empty_queries_are_no_good_match(retriever: Retriever) -> None:
    assert retriever.search("рецепт борща с говядиной и фасолью").no_good_match
    empty = retriever.search("   ")
    assert empty.no_good_match
    assert empty.hits == []


def test_lexical_only_when_no_embedder(conn: psycopg.Connection) -> None:
    lexical = Retriever(KnowledgeStore(conn), None)
    result = lexical.search("справочник 18000 строк из экселя", k=3)
    assert result.embedder == "none"
    assert docs(result)[0] == "confluence:1011"
    assert all("vector" not in hit.leg_scores for hit in result.hits)


def test_fusion_methods() -> None:
    legs = {"vector": {"a": 0.9, "b": 0.2}, "bm25": {"b": 0.6, "c": 0.5}, "exact": {"c": 1.0}}
    calibrated = fuse(
        legs, RetrievalConfig(fusion="calibrated", w_vector=0.5, w_bm25=0.5, w_exact=0.1)
    )
    assert calibrated["a"] == pytest.approx(0.45)
    assert calibrated["c"] == pytest.approx(0.35)
    rrf = fuse(legs, RetrievalConfig(fusion="rrf", w_vector=1, w_bm25=1, w_exact=0, rrf_k=60))
    assert rrf["b"] == pytest.approx(1 / 62 + 1 / 61)
    minmax = fuse(legs, RetrievalConfig(fusion="minmax", w_vector=1, w_bm25=1, w_exact=0))
    assert minmax["a"] == pytest.approx(1.0)
    assert minmax["c"] == pytest.approx(0.0)


def test_snippet_prefers_the_matching_sentence() -> None:
    from assistant.knowledge.text import terms

    text = "Заголовок\n\nПервое предложение про оплату. Второе про QR-код и вход. Третье."
    assert make_snippet(text, set(terms("вход по qr"))).startswith("Второе про QR-код")


def test_a_query_is_embedded_once_for_repeated_searches() -> None:
    from assistant.knowledge.search.retrieval import Retriever

    class CountingEmbedder:
        calls = 0

        def embed_query(self, texts: list[str]) -> np.ndarray:
            CountingEmbedder.calls += 1
            return np.ones((len(texts), 4), dtype=np.float32)

    retriever = Retriever(store=None, embedder=CountingEmbedder())  # type: ignore[arg-type]
    first = retriever._query_vector("не приходит письмо")
    again = retriever._query_vector("не приходит письмо")
    retriever._query_vector("другой вопрос")
    assert CountingEmbedder.calls == 2
    assert first is again


class BatchCountingEmbedder:
    """Records every embed_query call's batch; vectors encode the text length."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def embed_query(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return np.array([[len(text), 1.0, 0.0, 0.0] for text in texts], dtype=np.float32)


def test_primed_queries_are_embedded_in_batches_and_not_again() -> None:
    embedder = BatchCountingEmbedder()
    retriever = Retriever(store=None, embedder=embedder)  # type: ignore[arg-type]
    queries = [f"вопрос номер {i}" for i in range(70)] + ["вопрос номер 1", "  "]
    assert retriever.prime(queries, batch_size=32) == 70
    assert [len(batch) for batch in embedder.batches] == [32, 32, 6]
    vector = retriever._query_vector("вопрос номер 5")
    assert vector[0] == len("вопрос номер 5")
    assert len(embedder.batches) == 3  # served from the primed batch
    retriever._query_vector("не из пакета")
    assert embedder.batches[-1] == ["не из пакета"]


def test_a_long_ticket_is_embedded_by_its_beginning_only() -> None:
    from assistant.knowledge.search.retrieval import QUERY_VECTOR_CHARS, vector_text

    embedder = BatchCountingEmbedder()
    retriever = Retriever(store=None, embedder=embedder)  # type: ignore[arg-type]
    thread = "Не приходит письмо с кодом входа. " + "> Цитата предыдущего письма. " * 200
    retriever._query_vector(thread)
    (embedded,) = embedder.batches[0]
    assert len(embedded) <= QUERY_VECTOR_CHARS
    assert embedded.startswith("Не приходит письмо с кодом входа.")
    assert thread.startswith(embedded)
    assert not embedded.endswith(" ")
    assert vector_text("короткий вопрос") == "короткий вопрос"


def test_trigram_leg_rescores_candidates_despite_typos(conn: psycopg.Connection) -> None:
    """Misspelt words keep most of their character trigrams; stemmed BM25 terms do not."""
    config = RetrievalConfig(legs=("bm25", "exact", "trigram"), w_bm25=0.5, w_trigram=0.5)
    retriever = Retriever(KnowledgeStore(conn), None, config)
    query = "подпесь X-Pyrus-Sig не сходица у вебхука"
    legs = retriever.legs(query)
    candidates = {chunk for leg in ("bm25", "exact") for chunk in legs[leg]}
    assert set(legs["trigram"]) == candidates  # it scores what the other legs found, no more
    assert all(0.0 <= score <= 1.0 for score in legs["trigram"].values())
    owners = KnowledgeStore(conn).chunk_owners()
    best = max(legs["trigram"], key=legs["trigram"].get)
    assert owners[best] == "confluence:1015"
    result = retriever.search(query, k=3)
    assert docs(result)[0] == "confluence:1015"
    assert "trigram" in result.hits[0].leg_scores


def test_background_priming_returns_at_once_and_a_search_waits_for_its_batch() -> None:
    import threading

    release = threading.Event()

    threads: list[str] = []

    class GatedEmbedder(BatchCountingEmbedder):
        def embed_query(self, texts: list[str]) -> np.ndarray:
            release.wait(timeout=10)
            threads.append(threading.current_thread().name)
            return super().embed_query(texts)

    embedder = GatedEmbedder()
    retriever = Retriever(store=None, embedder=embedder)  # type: ignore[arg-type]
    queries = [f"заявка {i}" for i in range(5)]
    assert retriever.prime(queries, batch_size=2, background=True) == 5
    assert embedder.batches == []  # nothing embedded yet: the caller goes on
    release.set()
    assert retriever._query_vector("заявка 3")[0] == len("заявка 3")
    assert retriever._query_vector("заявка 0")[0] == len("заявка 0")
    assert threads
    assert all(name.startswith("kb-query-embed") for name in threads)
    assert [len(batch) for batch in embedder.batches][:2] == [2, 2]
