"""`kb ask --thread FILE`: what the bot would say on a ticket's newest comment.

The file is a ticket as Pyrus gives it: a `GET /tasks/{id}` answer (`{"task": …}`), a bot
webhook body (`{"event", "user_id", "task"}`) or the task object itself. The newest
comment decides, exactly as in the bot (`conversation.classify_turn`): the opening
message gets the first suggestion, a customer's follow-up or an engineer's question
gets its turn's comment, and anything else is answered with the reason it gets none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from assistant.bot.comment_format import format_comment
from assistant.bot.conversation import DEFAULT_BOT_NAMES, classify_turn, thread_context
from assistant.bot.pyrus_models import PyrusTask, safe_ticket, ticket_from_task
from assistant.bot.suggest import Suggester
from assistant.bot.turns import suggest_turn
from assistant.errors import KbError


class ThreadFileError(KbError):
    """The file is not a readable Pyrus ticket."""


@dataclass(frozen=True)
class ThreadFile:
    task: PyrusTask
    bot_id: int | None


def read_thread(path: Path) -> ThreadFile:
    """The task (and the bot's person id, when the file is a webhook body) in `path`."""
    try:
        data: Any = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ThreadFileError(f"cannot read the ticket file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ThreadFileError(f"{path}: expected a JSON object (a Pyrus task)")
    bot_id = data.get("user_id") if isinstance(data.get("user_id"), int) else None
    raw = data.get("task", data)
    try:
        task = PyrusTask.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ThreadFileError(f"{path}: not a Pyrus task ({where}: {first['msg']})") from exc
    if not task.comments:
        raise ThreadFileError(f"{path}: the task has no comments to answer")
    return ThreadFile(task, bot_id)


def answer_thread(
    thread: ThreadFile,
    suggester: Suggester,
    *,
    bot_names: list[str] | tuple[str, ...] = DEFAULT_BOT_NAMES,
    category_names: dict[str, str] | None = None,
) -> str:
    """The comment text the bot would post for the newest comment, or why it would not."""
    task = thread.task
    newest = task.comments[-1]
    if len(task.comments) == 1:
        ticket = safe_ticket(ticket_from_task(task))
        suggestion = suggester.suggest(
            ticket.subject, ticket.description, customer_name=ticket.customer_name
        )
        name = (category_names or {}).get(suggestion.category_code or "")
        return format_comment(suggestion, category_name=name).text
    turn = classify_turn(task, newest, thread.bot_id, bot_names)
    if isinstance(turn, str):
        return f"Комментарий {newest.id}: бот не отвечает ({turn})."
    context = thread_context(task, newest.id, thread.bot_id)
    made = suggest_turn(suggester, task, turn, context, category_names=category_names)
    return made.body.text
