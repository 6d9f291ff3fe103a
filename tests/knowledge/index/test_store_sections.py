"""KnowledgeStore.document_sections: a page's sections for the retrieval-only suggestion."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from assistant.db import connect
from assistant.knowledge.index.chunking import KbDocument, chunk_document
from assistant.knowledge.index.store import KnowledgeStore

pytestmark = pytest.mark.db

PAGE = KbDocument(
    document_id="confluence:42",
    source="confluence",
    title="Кнопка «Согласовать» не срабатывает",
    url="https://wiki.example/42",
    body=(
        "<h2>Симптомы</h2><p>Клиент пишет, что кнопка не работает.</p>"
        "<h2>Решение</h2><ol><li>Найдите подсвеченное поле.</li><li>Заполните его.</li></ol>"
        "<h2>Что ответить клиенту</h2><p>Заполните поле и нажмите «Согласовать».</p>"
    ),
    category_code="forms_fields",
)


@pytest.fixture
def store(database_url: str) -> Iterator[KnowledgeStore]:
    with connect(database_url, autocommit=True) as conn:
        scratch = KnowledgeStore.create_scratch(conn, "kb_sections_test")
        yield scratch
        scratch.drop()


def test_sections_come_back_in_page_order(store: KnowledgeStore) -> None:
    chunks = chunk_document(PAGE)
    store.write_chunks(chunks, np.eye(len(chunks), 4, dtype=np.float32) + 0.01, "m@1")
    sections = store.document_sections("confluence:42")
    names = [name for name, _ in sections]
    assert names.index("Симптомы") < names.index("Решение") < names.index("Что ответить клиенту")
    assert "Найдите подсвеченное поле" in dict(sections)["Решение"]
    assert store.document_sections("confluence:missing") == []
