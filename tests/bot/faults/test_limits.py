"""Findings 4, 6 and 7 of an earlier round: the body read is bounded, every LLM text field
is bounded, and a rate-limited post does not hold up other tickets.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from starlette.requests import Request

from assistant.bot.pipeline import build_pipeline
from assistant.bot.pyrus_client import PyrusPoster
from assistant.bot.webhook import create_app, sign
from assistant.bot.webhook_body import PayloadTooLarge, read_signed_body
from assistant.db import connect
from assistant.llm.client import LLMClient
from assistant.servers import run_in_thread
from sample_data.emulators.sandbox import Sandbox
from tests.bot.test_pipeline import Bot, bot_comments, make_settings, new_task, wait_finished
from tests.bot.test_suggest import make_suggester

pytestmark = pytest.mark.db


def test_body_is_read_only_up_to_the_ceiling() -> None:
    """A 16 MB body without Content-Length is refused after ~4x the limit read."""
    chunk, sent = b"x" * 65_536, []

    async def receive() -> dict[str, Any]:
        sent.append(len(chunk))
        return {"type": "http.request", "body": chunk, "more_body": len(sent) < 256}

    headers = [(b"x-pyrus-sig", sign("s", b"whatever").encode())]
    request = Request({"type": "http", "method": "POST", "headers": headers}, receive)
    with pytest.raises(PayloadTooLarge):
        asyncio.run(read_signed_body(request, "s", limit=262_144, timeout_seconds=5))
    assert sum(sent) <= 4 * 262_144 + len(chunk)  # 16 chunks + 1, not 256


def test_every_text_field_sent_to_the_llm_is_bounded(
    sandbox: Sandbox, start_bot: Any, fake_llm: Any
) -> None:
    llm = LLMClient(base_url=fake_llm.base_url, model="fake", timeout_seconds=5, max_retries=0)
    bot: Bot = start_bot(llm=llm)
    task_id = new_task(sandbox, text="Описание. " * 20_000)
    task = sandbox.pyrus.dataset.tasks[task_id]
    task["fields"][0]["value"] = "Тема " * 20_000  # a 100k-character subject
    task["comments"][0]["channel"] = {"type": "email", "from": {"name": "Я" * 100_000}}
    sandbox.send_webhook(bot.url, task_id)
    wait_finished(bot.database_url, task_id)
    [request] = fake_llm.requests
    sent = "\n".join(str(m["content"]) for m in request["body"]["messages"])
    assert len(sent) < 30_000  # 500 subject + 8000 description + sources + instructions
    assert "Я" * 31 not in sent  # not a plausible name: not sent at all


def test_rate_limited_post_does_not_block_other_tickets(
    sandbox: Sandbox, database_url: str
) -> None:
    settings = make_settings(sandbox, pyrus_rate_limit_max_wait_seconds=30.0)
    pipeline = build_pipeline(
        settings, suggester_factory=lambda _c: make_suggester(), poster=PyrusPoster(settings)
    )  # the real sleep: a worker that slept on the 429 would hold B for 30 s
    app = create_app(settings, database_url, pipeline=pipeline)
    handle = run_in_thread(app)
    try:
        url = f"{handle.url}/pyrus/webhook"
        slow, other = new_task(sandbox), new_task(sandbox)
        sandbox.pyrus.faults.fail_next(1, status=429, path_prefix=f"/v4/tasks/{slow}/comments")
        assert sandbox.send_webhook(url, slow).ok
        assert sandbox.send_webhook(url, other).ok
        started = time.monotonic()
        assert wait_finished(database_url, other)[0][0] == "done"
        assert time.monotonic() - started < 15
        assert len(bot_comments(sandbox, other)) == 1
        with connect(database_url, autocommit=True) as conn:
            row = conn.execute(
                "select status, available_at > now() + interval '10 seconds', last_error,"
                " attempts from assistant.inbox where task_id = %s",
                (slow,),
            ).fetchone()
        assert row is not None
        assert row[:2] == ("pending", True)  # waits with a not-before time, not in a sleep
        assert "rate-limited" in row[2]
        assert row[3] == 0  # a rate limit is not a failed attempt
        assert bot_comments(sandbox, slow) == []
    finally:
        app.state.bot.stop()
        handle.stop()
