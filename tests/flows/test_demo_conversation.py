"""The demo's conversation part on the sample dataset: a follow-up and a question answered.

Runs `demo_conversation` as `kb demo` calls it, against the emulators over the sample
dataset, with the test suggester instead of the demo's fitted index (the six-minute
refresh is not needed to show what the bot does on later comments).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from assistant.bot.pipeline import build_pipeline, drain_inbox
from assistant.bot.pyrus_client import PyrusPoster
from assistant.bot.turns import FOLLOW_UP_HEADING, QUESTION_HEADING
from assistant.bot.webhook import create_app
from assistant.servers import run_in_thread
from assistant.settings import AssistantSettings
from flows.demo_conversation import demo_conversation, sample_follow_ups
from sample_data.emulators.sandbox import Sandbox, start_sandbox
from tests.bot.test_suggest import make_suggester

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    box = start_sandbox()
    yield box
    box.stop()


def test_sample_follow_ups_come_from_the_generated_history() -> None:
    needs, thanks = sample_follow_ups(Path("sample_data/dataset"))
    history = Path("sample_data/dataset/pyrus_tasks.jsonl").read_text("utf-8")
    assert json.dumps(needs, ensure_ascii=False)[1:-1] in history
    assert json.dumps(thanks, ensure_ascii=False)[1:-1] in history


def test_demo_shows_a_follow_up_and_an_answered_question(
    sandbox: Sandbox, database_url: str
) -> None:
    settings = AssistantSettings(  # type: ignore[call-arg]
        _env_file=None,
        pyrus_bot_secret=sandbox.bot_secret,
        pyrus_api_url=sandbox.pyrus_api_url,
        pyrus_auth_url=sandbox.pyrus_auth_url,
        pyrus_login=sandbox.pyrus_login,
        pyrus_security_key=sandbox.pyrus_key,
        assistant_holdout=0.0,
        pyrus_rate_limit_max_wait_seconds=0.0,
    )
    pipeline = build_pipeline(
        settings,
        suggester_factory=lambda _conn: make_suggester(),
        poster=PyrusPoster(settings, sleep=lambda _s: None),
    )
    line = Path("sample_data/dataset/new_tickets.jsonl").read_text("utf-8").splitlines()[0]
    ticket = sandbox.create_ticket({**json.loads(line), "client_name": "Марина Ковалёва"})
    with run_in_thread(create_app(settings, database_url, pipeline=None)) as bot:
        sandbox.send_webhook(f"{bot.url}/pyrus/webhook", int(ticket["id"]))
        drain_inbox(database_url, pipeline)
    out = io.StringIO()
    console = Console(file=out, width=100)
    assert demo_conversation(console, sandbox, pipeline, database_url, int(ticket["id"]))
    printed = out.getvalue()
    assert "Подсказка бота к новому сообщению клиента" in printed
    assert "Ответ бота в ветке комментария" in printed
    assert "the bot stays quiet" in printed
    comments = sandbox.pyrus.get_task(int(ticket["id"]))["comments"]
    heads = [str(c.get("text", "")).split("\n")[0] for c in comments]
    assert heads.count(FOLLOW_UP_HEADING) == 1  # the thank-you got none
    assert heads.count(QUESTION_HEADING) == 1
    assert len(printed.splitlines()) <= 40  # the demo's screen budget for this part
