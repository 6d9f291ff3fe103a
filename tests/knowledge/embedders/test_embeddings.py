"""Embedding providers: the local TF-IDF+SVD model and an OpenAI-compatible endpoint."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from assistant.knowledge.embedders.base import EmbeddingError
from assistant.knowledge.embedders.local import LocalEmbedder
from assistant.knowledge.embedders.remote import OpenAIEmbedder
from assistant.servers import run_in_thread

TEXTS = [
    "Кнопка «Согласовать» неактивна: не заполнено обязательное поле на этапе",
    "Согласующий в отпуске — назначьте этап роли с заместителями",
    "Ошибка invalid_credentials при авторизации API: неверный ключ бота",
    "Ошибка 429 too_many_requests: сделайте паузу по Retry-After",
    "Справочник не обновляется из Excel: первая строка должна содержать заголовки",
    "Не приходят уведомления на почту: проверьте настройки профиля и спам",
    "Вход в мобильное приложение по QR-коду из веб-версии",
    "Бот не реагирует на задачу: добавьте бота на этап маршрута",
]


def corpus() -> list[tuple[str, str]]:
    return [(f"h{i:02d}", text) for i, text in enumerate(TEXTS)]


def test_local_embedder_is_deterministic_and_normalised() -> None:
    first = LocalEmbedder.fit(corpus())
    second = LocalEmbedder.fit(list(reversed(corpus())))
    assert first.version == second.version  # the version hashes texts, not their order
    vectors = first.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), first.dim)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors, second.embed(TEXTS), atol=1e-4)
    changed = LocalEmbedder.fit([*corpus(), ("h99", "Новая статья про лицензии и оплату")])
    assert changed.version != first.version


def test_local_embedder_puts_paraphrases_close() -> None:
    model = LocalEmbedder.fit(corpus())
    query = model.embed(["не могу нажать согласовать, обязательное поле пустое"])[0]
    scores = model.embed(TEXTS) @ query
    assert int(np.argmax(scores)) == 0


def test_local_embedder_record_round_trip() -> None:
    model = LocalEmbedder.fit(corpus())
    record = model.record()
    assert record.kind == "local"
    assert record.artifact
    assert record.dim == model.dim
    loaded = LocalEmbedder.from_record(record)
    assert loaded.key == model.key
    assert np.allclose(loaded.embed(TEXTS[:2]), model.embed(TEXTS[:2]), atol=1e-6)


def test_local_embedder_needs_two_texts() -> None:
    with pytest.raises(EmbeddingError):
        LocalEmbedder.fit([("h", "один текст")])


class ScriptedEmbeddings:
    """An OpenAI-compatible /v1/embeddings on 127.0.0.1 with scripted failures."""

    def __init__(self, dim: int = 8) -> None:
        self.dim = dim
        self.failures: deque[tuple[int, dict[str, str]]] = deque()
        self.requests: list[dict[str, Any]] = []
        self.shuffle = False
        app = FastAPI()

        @app.post("/v1/embeddings")
        async def embeddings(request: Request) -> Any:
            body = await request.json()
            self.requests.append(body)
            if self.failures:
                status, headers = self.failures.popleft()
                return JSONResponse({"error": {"message": "scripted"}}, status, headers=headers)
            data = [
                {"object": "embedding", "index": i, "embedding": self.vector(text)}
                for i, text in enumerate(body["input"])
            ]
            if self.shuffle:
                data.reverse()
            return {"object": "list", "data": data, "model": body["model"], "usage": {}}

        self.handle = run_in_thread(app)

    def vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dim
        vector[len(text) % self.dim] = 1.0
        vector[0] += 0.5
        return vector

    @property
    def base_url(self) -> str:
        return f"{self.handle.url}/v1"


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedEmbeddings]:
    fake = ScriptedEmbeddings()
    yield fake
    fake.handle.stop()


@pytest.fixture
def fake(server: ScriptedEmbeddings) -> ScriptedEmbeddings:
    server.failures.clear()
    server.requests.clear()
    server.shuffle = False
    server.dim = 8
    return server


def make(fake: ScriptedEmbeddings, sleeps: list[float], **kwargs: Any) -> OpenAIEmbedder:
    return OpenAIEmbedder(
        base_url=fake.base_url, model="emb-1", api_key="sk-test", sleep=sleeps.append, **kwargs
    )


def test_batches_and_keeps_input_order(fake: ScriptedEmbeddings) -> None:
    fake.shuffle = True
    embedder = make(fake, [], batch_size=3)
    texts = ["a", "bb", "ccc", "dddd", "eeeee", "ffffff", "g"]
    vectors = embedder.embed(texts)
    assert [len(r["input"]) for r in fake.requests] == [3, 3, 1]
    assert vectors.shape == (7, 8)
    assert embedder.dim == 8
    assert embedder.key == "openai:emb-1@d8"
    expected = np.asarray([fake.vector(t) for t in texts])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(vectors, expected, atol=1e-6)


def test_retries_429_with_retry_after_and_5xx(fake: ScriptedEmbeddings) -> None:
    fake.failures.extend([(429, {"Retry-After": "3"}), (503, {})])
    sleeps: list[float] = []
    vectors = make(fake, sleeps, backoff_seconds=0.01).embed(["текст"])
    assert vectors.shape == (1, 8)
    assert len(fake.requests) == 3
    assert 3.0 <= sleeps[0] < 3.1  # Retry-After honoured (plus a little jitter)
    assert sleeps[1] < 0.1


def test_does_not_retry_other_4xx(fake: ScriptedEmbeddings) -> None:
    fake.failures.append((400, {}))
    with pytest.raises(EmbeddingError, match="400"):
        make(fake, []).embed(["текст"])
    assert len(fake.requests) == 1


def test_gives_up_after_max_attempts(fake: ScriptedEmbeddings) -> None:
    fake.failures.extend([(500, {})] * 3)
    sleeps: list[float] = []
    with pytest.raises(EmbeddingError, match="after 3 attempts"):
        make(fake, sleeps, max_attempts=3, backoff_seconds=0.01).embed(["текст"])
    assert len(fake.requests) == 3
    assert len(sleeps) == 2


def test_dimension_change_is_an_error(fake: ScriptedEmbeddings) -> None:
    embedder = make(fake, [], dim=16)
    with pytest.raises(EmbeddingError, match="expected 16"):
        embedder.embed(["текст"])


def test_unreachable_endpoint_is_a_clear_error() -> None:
    embedder = OpenAIEmbedder(
        base_url="http://127.0.0.1:9/v1", model="m", max_attempts=2, sleep=lambda _: None
    )
    with pytest.raises(EmbeddingError, match="after 2 attempts"):
        embedder.embed(["текст"])


def test_prefixes_are_sent_and_change_the_key(fake: ScriptedEmbeddings) -> None:
    plain = make(fake, [])
    prefixed = make(fake, [], query_prefix="query: ", passage_prefix="passage: ")
    prefixed.embed(["текст статьи"])
    prefixed.embed_query(["вопрос клиента"])
    plain.embed_query(["вопрос клиента"])
    assert [r["input"] for r in fake.requests] == [
        ["passage: текст статьи"],
        ["query: вопрос клиента"],
        ["вопрос клиента"],
    ]
    assert "input_type" not in fake.requests[0]
    assert prefixed.key != plain.key  # other prefixes, another vector space: re-index


def test_input_type_is_sent_when_asked(fake: ScriptedEmbeddings) -> None:
    embedder = make(fake, [], input_type=True)
    embedder.embed(["текст"])
    embedder.embed_query(["вопрос"])
    assert [r["input_type"] for r in fake.requests] == ["passage", "query"]
