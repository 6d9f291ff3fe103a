"""`kb ask --thread FILE`: the bot's answer to a ticket file's newest comment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assistant.bot.thread_file import ThreadFileError
from assistant.bot.turns import FOLLOW_UP_HEADING, QUESTION_HEADING

SAMPLE = Path(__file__).resolve().parents[2] / "docs/samples/pyrus/task-with-comments.json"


def _ticket(tmp_path: Path, keep: int, *extra: dict[str, Any]) -> Path:
    data = json.loads(SAMPLE.read_text("utf-8"))
    data["task"]["comments"] = data["task"]["comments"][:keep] + list(extra)
    path = tmp_path / "ticket.json"
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    return path


@pytest.fixture
def ask(kb_env: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    from flows.cli import app
    from tests.bot.test_suggest import make_suggester

    monkeypatch.setattr(
        "assistant.bot.suggest.open_suggester", lambda _conn, _settings: make_suggester()
    )

    def run(*args: str) -> Any:
        return CliRunner().invoke(app, ["ask", *args])

    return run


def test_customer_follow_up_gets_a_turn_comment(ask: Any, tmp_path: Path) -> None:
    customer = json.loads(SAMPLE.read_text("utf-8"))["task"]["comments"][0]
    follow = {
        "id": 1120341800,
        "text": "Повторила оплату, снова «Операция отклонена». Письмо для сброса тоже не приходит.",
        "author": customer["author"],
        "channel": customer["channel"],
    }
    result = ask("--thread", str(_ticket(tmp_path, 5, follow)))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(FOLLOW_UP_HEADING)
    assert "Новое сообщение: «Повторила оплату" in result.output
    assert "a.kuznetsov@client-mail.example" not in result.output


def test_thanks_and_staff_notes_get_the_reason(ask: Any, tmp_path: Path) -> None:
    result = ask("--thread", str(_ticket(tmp_path, 6)))
    assert result.exit_code == 0, result.output
    assert "needs no answer: an acknowledgement" in result.output
    result = ask("--thread", str(_ticket(tmp_path, 7)))
    assert "a staff comment not addressed to the bot" in result.output


def test_question_to_the_bot_is_answered(ask: Any, tmp_path: Path) -> None:
    engineer = json.loads(SAMPLE.read_text("utf-8"))["task"]["comments"][2]["author"]
    question = {
        "id": 1120341900,
        "text": "/kb что делать, если не приходит письмо для сброса пароля?",
        "author": engineer,
    }
    result = ask("--thread", str(_ticket(tmp_path, 5, question)))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(QUESTION_HEADING)
    assert "https://wiki.example/pages/1" in result.output


def test_a_bad_file_is_one_clear_line(kb_env: str, tmp_path: Path) -> None:
    from flows.cli import app

    path = tmp_path / "broken.json"
    path.write_text('{"task": {"comments": "нет"}}', "utf-8")
    result = CliRunner().invoke(app, ["ask", "--thread", str(path)])
    assert result.exit_code != 0
    assert isinstance(result.exception, ThreadFileError)  # the CLI prints it as one line
    assert "not a Pyrus task (id: Field required)" in str(result.exception)
