"""The bot webhook sender: signature test vector, payload, retries and the bot's reply."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from assistant.servers import ServerHandle, run_in_thread
from sample_data.emulators.sandbox import Sandbox, start_sandbox
from sample_data.emulators.webhook_sender import send_task_event, sign

MINI = Path(__file__).parent / "fixtures" / "mini_dataset"
SAMPLE = Path(__file__).resolve().parents[2] / "docs/samples/pyrus/bot-webhook-payload.json"
SECRET = "bot-secret"


def test_signature_matches_the_reference_test_vector() -> None:
    raw = SAMPLE.read_bytes()
    assert len(raw) == 8006
    assert sign(raw, "test-bot-secret") == "0672FF225E475011549200DC4D8F13C425FB282B"


class Bot:
    """A tiny bot on 127.0.0.1: answers with the scripted statuses and records requests."""

    def __init__(self, statuses: list[int], reply: dict[str, Any] | None = None) -> None:
        self.statuses = statuses
        self.reply = reply
        self.requests: list[tuple[dict[str, str], bytes]] = []
        app = FastAPI()

        @app.post("/pyrus/webhook")
        async def hook(request: Request) -> Response:
            self.requests.append((dict(request.headers), await request.body()))
            status = self.statuses.pop(0) if self.statuses else 200
            if status == 200 and self.reply is not None:
                return JSONResponse(self.reply)
            return Response(status_code=status)

        self.app = app


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with start_sandbox(MINI, pyrus_login="bot@mini-test", bot_secret=SECRET) as box:
        yield box


def _serve(bot: Bot) -> ServerHandle:
    return run_in_thread(bot.app)


def test_retries_after_errors_with_retry_header_and_valid_signature() -> None:
    bot = Bot([500, 502])
    task = {"id": 7, "comments": [{"id": 1, "text": "Здравствуйте"}]}
    with _serve(bot) as server:
        delivery = send_task_event(f"{server.url}/pyrus/webhook", task, SECRET, user_id=42)
    assert delivery.ok
    assert [a.status for a in delivery.attempts] == [500, 502, 200]
    retries = [headers.get("x-pyrus-retry") for headers, _ in bot.requests]
    assert retries == [None, "2/3", "3/3"]
    for headers, body in bot.requests:
        expected = hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
        assert headers["x-pyrus-sig"].lower() == expected
    payload = json.loads(bot.requests[0][1])
    assert (payload["event"], payload["task_id"], payload["user_id"]) == ("comment", 7, 42)
    assert payload["task"] == task


def test_gives_up_after_three_tries_and_retry_count_starts_later() -> None:
    bot = Bot([500, 500, 500, 500])
    with _serve(bot) as server:
        failed = send_task_event(f"{server.url}/pyrus/webhook", {"id": 1}, SECRET)
        replay = send_task_event(f"{server.url}/pyrus/webhook", {"id": 1}, SECRET, retry_count=2)
    assert not failed.ok
    assert len(failed.attempts) == 3
    assert [a.headers.get("X-Pyrus-Retry") for a in replay.attempts] == ["3/3"]


def test_timeout_counts_as_a_failed_attempt() -> None:
    delivery = send_task_event("http://127.0.0.1:9/pyrus/webhook", {"id": 1}, SECRET, timeout=0.5)
    assert not delivery.ok
    assert len(delivery.attempts) == 3
    assert all(a.error for a in delivery.attempts)


def test_new_ticket_then_webhook_then_bot_comment(sandbox: Sandbox) -> None:
    ticket = {
        "subject": "Не приходит чек на почту",
        "description": "После оплаты заказа №61000 чек не пришёл на почту.",
        "client": {"name": "Анна Орлова", "email": "a.orlova@mail.example"},
        "category": "Вопрос по оплате",
    }
    task = sandbox.create_ticket(ticket)
    assert task["create_date"] == "2026-11-20T00:00:00Z"
    fields = {f["id"]: f.get("value") for f in task["fields"]}
    assert fields[1] == "Не приходит чек на почту"
    assert fields[5]["choice_names"] == ["Вопрос по оплате"]
    assert fields[9] == "open"
    bot = Bot([200], reply={"text": "Рекомендация (ИИ)"})
    with _serve(bot) as server:
        delivery = sandbox.send_webhook(f"{server.url}/pyrus/webhook", task["id"])
    assert delivery.reply == {"text": "Рекомендация (ИИ)"}
    payload = json.loads(delivery.payload)
    assert payload["task"]["comments"][0]["text"].startswith("После оплаты")
    assert payload["user_id"] == 1184502
    token = payload["access_token"]
    assert sandbox.pyrus.check_token(f"Bearer {token}").login == "bot@mini-test"
