"""Query vectors are stored once per (embedder, text) and read back by later searches."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import psycopg
import pytest

from assistant.db import connect
from assistant.knowledge.search.query_vectors import QueryVectorStore, prune, text_hash
from assistant.knowledge.search.retrieval import Retriever

pytestmark = pytest.mark.db

KEY = "test-counting@1"


class CountingEmbedder:
    key = KEY

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed_query(self, texts: list[str]) -> np.ndarray:
        self.embedded += texts
        return np.array([[len(t), 1.0, 0.0, 2.0] for t in texts], dtype=np.float32)


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with connect(database_url, autocommit=True) as connection:
        connection.execute("delete from kb.query_vectors where embedder = %s", (KEY,))
        yield connection
        connection.execute("delete from kb.query_vectors where embedder = %s", (KEY,))


def retriever(conn: psycopg.Connection, embedder: CountingEmbedder) -> Retriever:
    return Retriever(None, embedder, vector_store=QueryVectorStore(conn, KEY))  # type: ignore[arg-type]


def test_a_ticket_is_embedded_once_across_runs(conn: psycopg.Connection) -> None:
    tickets = ["Не приходит письмо", "Заявка висит на согласовании", "Не приходит письмо"]
    first = CountingEmbedder()
    assert retriever(conn, first).prime(tickets) == 2
    assert sorted(first.embedded) == sorted(set(tickets))
    stored = conn.execute(
        "select text_hash from kb.query_vectors where embedder = %s", (KEY,)
    ).fetchall()
    assert {row[0] for row in stored} == {text_hash(t) for t in set(tickets)}

    later = CountingEmbedder()  # a later run (tune) in another process
    again = retriever(conn, later)
    assert again.prime([*tickets, "Новый вопрос"]) == 3
    assert later.embedded == ["Новый вопрос"]
    vector = again._query_vector("Заявка висит на согласовании")
    assert vector[0] == len("Заявка висит на согласовании")

    live = CountingEmbedder()  # the bot's single-query path reads and writes too
    bot = retriever(conn, live)
    bot._query_vector("Не приходит письмо")
    bot._query_vector("Совсем новый тикет")
    assert live.embedded == ["Совсем новый тикет"]
    assert QueryVectorStore(conn, KEY).get(["Совсем новый тикет"])


def test_another_embedder_never_reads_these_vectors(conn: psycopg.Connection) -> None:
    retriever(conn, CountingEmbedder()).prime(["Вопрос"])
    assert QueryVectorStore(conn, "other-model@2").get(["Вопрос"]) == {}


def test_a_read_only_database_disables_storage_not_search(database_url: str) -> None:
    with connect(database_url, autocommit=True) as conn:
        conn.execute("set default_transaction_read_only = on")
        embedder = CountingEmbedder()
        search = retriever(conn, embedder)
        vector = search._query_vector("Только чтение")
        assert vector[0] == len("Только чтение")
        assert search.vector_store is not None
        assert not search.vector_store.enabled
        assert search.prime(["Ещё вопрос"]) == 1  # embedded live, nothing raised


def test_prune_drops_old_rows_and_inactive_embedders(conn: psycopg.Connection) -> None:
    QueryVectorStore(conn, KEY).put({"старый": np.ones(4, dtype=np.float32)})
    conn.execute(
        "update kb.query_vectors set created_at = now() - interval '400 days' where embedder = %s",
        (KEY,),
    )
    assert prune(conn) >= 1
    assert QueryVectorStore(conn, KEY).get(["старый"]) == {}
