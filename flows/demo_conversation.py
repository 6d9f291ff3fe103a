"""`kb demo`, the conversation part: a customer follow-up, a thank-you, an engineer's question.

Runs on the ticket the demo's bot has just answered. The customer's messages are the
sample generator's own follow-ups (a reopened ticket's «не помогло…» and a thank-you,
taken from the sample history, sample_data/dataset/pyrus_tasks.jsonl); the engineer then
asks the bot with `/kb`. Each event goes to the bot as a signed webhook, like the first
one, and the comments that landed in the ticket are printed. docs/conversation.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel

from assistant.bot.conversation import Turn, classify_turn
from assistant.bot.pipeline import BotPipeline, drain_inbox
from assistant.bot.pyrus_models import PyrusTask
from assistant.bot.turns import FOLLOW_UP_HEADING, QUESTION_HEADING
from assistant.servers import run_in_thread

PANEL_MAX_LINES = 14
QUESTION = "/kb где это настраивается и какие права для этого нужны?"


def sample_follow_ups(dataset_root: Path) -> tuple[str, str]:
    """(a follow-up that needs an answer, one that needs none) from the sample history."""
    needs = thanks = None
    for line in (dataset_root / "pyrus_tasks.jsonl").read_text("utf-8").splitlines():
        task = PyrusTask.model_validate(json.loads(line))
        for comment in task.comments[1:]:
            if not isinstance(comment.channel, dict) or comment.channel.get("to"):
                continue  # only the customer's own messages
            turn = classify_turn(task, comment, None)
            if needs is None and isinstance(turn, Turn) and comment.model_extra.get("action"):
                needs = turn.text  # a reopening message: the problem came back
            elif thanks is None and turn == "needs no answer: an acknowledgement":
                thanks = comment.text or ""
        if needs and thanks:
            return needs, thanks
    from flows.demo import DemoFailed

    raise DemoFailed(
        f"the sample history in {dataset_root} holds no customer follow-ups; "
        "regenerate it with `python -m sample_data.generate`"
    )


def _engineer(sandbox: Any) -> dict[str, Any]:
    members = sandbox.dataset.members.get("members", [])
    return next(m for m in members if m.get("type") == "user" and m.get("department_id"))


def _bot_comment(sandbox: Any, task_id: int, heading: str) -> dict[str, Any] | None:
    comments = sandbox.pyrus.get_task(task_id)["comments"]
    found = [c for c in comments if str(c.get("text", "")).startswith(heading)]
    return found[-1] if found else None


def _panel(console: Console, comment: dict[str, Any], title: str) -> None:
    from flows.demo import clipped, html_to_terminal

    text = html_to_terminal(comment.get("formatted_text") or comment.get("text") or "")
    console.print(Panel(clipped(console, text, PANEL_MAX_LINES), title=title))


def demo_conversation(
    console: Console, sandbox: Any, pipeline: BotPipeline, database_url: str, task_id: int
) -> bool:
    """Show a follow-up suggestion and an answered question on the demo ticket."""
    from assistant.bot.webhook import create_app

    needs, thanks = sample_follow_ups(Path(sandbox.dataset.root))
    customer = sandbox.pyrus.get_task(task_id)["comments"][0]
    app = create_app(pipeline.settings, database_url, pipeline=None)
    with run_in_thread(app) as bot:
        url = f"{bot.url}/pyrus/webhook"

        def event(comment: dict[str, Any]) -> None:
            sandbox.pyrus.add_comment(task_id, comment)
            sandbox.send_webhook(url, task_id)
            drain_inbox(database_url, pipeline)

        by_mail = {"author": customer["author"], "channel": customer.get("channel")}
        console.print(f"    The customer writes again: «{needs}»")
        event({"text": needs, **by_mail})
        follow_up = _bot_comment(sandbox, task_id, FOLLOW_UP_HEADING)
        console.print(f"    …then: «{thanks}» (the bot stays quiet: an acknowledgement)")
        event({"text": thanks, **by_mail})
        console.print(f"    An engineer asks the bot: «{QUESTION}»")
        bot_id = sandbox.pyrus.person_for_login(sandbox.pyrus_login)["id"]
        event({"text": QUESTION, "author": _engineer(sandbox), "mentions": [bot_id]})
        answer = _bot_comment(sandbox, task_id, QUESTION_HEADING)
    if follow_up is None or answer is None:
        return False
    _panel(console, follow_up, "Подсказка бота к новому сообщению клиента")
    _panel(console, answer, f"Ответ бота в ветке комментария {answer.get('reply_note_id')}")
    return True
