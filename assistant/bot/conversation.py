"""What a new comment in a ticket asks of the bot, and what the thread already established.

The bot speaks first on a ticket's opening message (`pipeline.py`). Later comments are
*turns* of the conversation (docs/conversation.md):

* a customer's new message is a **follow-up**: it gets one fresh internal suggestion for
  that message, unless it needs no answer (thanks, «ок», an auto-reply, a bare attachment);
* an engineer's comment that addresses the bot (`mentions[]` holds the bot's person id —
  the webhook's `user_id` —, or the text starts with the bot's name or `/kb`) is a
  **question** to the copilot, answered in a threaded internal reply;
* anything else (an engineer's reply or note, the bot's own comment, a field change) gets
  nothing.

Who wrote a comment follows docs/pyrus-api.md §4: a `channel` with `to` (or
`direction: outbound`) is a reply sent to the customer; a `channel` with only `from` (or
`direction: inbound`) came in from the customer; a comment without a channel is internal,
written by the customer only when its author is the task's author. Pure: no I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from assistant.bot.pyrus_models import PyrusComment, PyrusTask, ticket_from_task
from assistant.email_text import latest_message

Role = Literal["bot", "customer", "staff"]
TurnKind = Literal["follow_up", "question"]

QUESTION_PREFIX = "/kb"
DEFAULT_BOT_NAMES = ("ИИ-помощник", "kb")

# --- who wrote a comment ------------------------------------------------------------------


def _person_id(value: Any) -> int | None:
    """A mention is a person id; some clients send a person object instead."""
    if isinstance(value, dict):
        value = value.get("id")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def comment_role(comment: PyrusComment, task: PyrusTask, bot_id: int | None) -> Role:
    """The bot, the customer, or staff (see the module docstring for the rule)."""
    author = comment.author
    if author is not None and (
        (bot_id is not None and author.id == bot_id) or author.type == "bot"
    ):
        return "bot"
    channel = comment.channel if isinstance(comment.channel, dict) else None
    if channel is not None:
        direction = str(channel.get("direction") or "").lower()
        if direction in ("inbound", "outbound"):
            return "customer" if direction == "inbound" else "staff"
        if channel.get("to"):
            return "staff"
        if channel.get("from"):
            return "customer"
    task_author = task.author.id if task.author is not None else None
    if author is not None and task_author is not None and author.id == task_author:
        return "customer"
    return "staff"


# --- does a customer message need an answer? ----------------------------------------------

_WORD = re.compile(r"[0-9a-zа-яё]+", re.IGNORECASE)
# Gratitude, agreement and "it works now": a short message made of these closes a loop.
_ACK_EXACT = frozenset({"ок", "ok", "окей", "okay", "ага", "угу", "да", "спс", "thx", "ясно"})
_ACK_STEMS = (
    "спасиб", "благодар", "thank", "хорош", "понял", "понятн", "принят", "супер", "отличн",
    "замечательн", "получилос", "заработал", "работает", "помогл", "решен", "решил",
    "разобрал", "закрыва", "great", "works", "fixed", "solved",
)  # fmt: skip
# Anything that keeps a problem open: a negation, a contrast, "again", an error, "why".
_OPEN_EXACT = frozenset({"не", "нет", "но", "а", "ни", "not", "no", "but", "why", "how"})
_OPEN_STEMS = (
    "однако", "снова", "опять", "ещё", "еще", "ошибк", "проблем", "почему", "зачем",
    "still", "again", "error",
)  # fmt: skip
ACK_MAX_WORDS = 12
"""An acknowledgement is a line, not a paragraph: a longer message says something more."""

_AUTO_REPLY = re.compile(
    r"автоответ|автоматическ\w* (ответ|уведомлени|сообщени)|auto[- ]?reply|automatic reply|"
    r"out of (the )?office|вне офиса|(нахожусь|буду) в отпуске|в отпуске (до|с)\b|"
    r"ваше (письмо|обращение|сообщение) (получен|зарегистрирован|принят)|"
    r"не отвечайте на (это|данное) (письмо|сообщение)|письмо (сформировано|отправлено) "
    r"автоматически|this is an automated",
    re.IGNORECASE,
)


def _is_acknowledgement(text: str) -> bool:
    words = [w.lower() for w in _WORD.findall(text)]
    if not words or len(words) > ACK_MAX_WORDS or "?" in text:
        return False
    if any(w in _OPEN_EXACT or w.startswith(_OPEN_STEMS) for w in words):
        return False
    return any(w in _ACK_EXACT or w.startswith(_ACK_STEMS) for w in words)


def no_answer_reason(text: str, *, has_attachments: bool) -> str | None:
    """Why a customer's message needs no suggestion, or None when it does.

    `text` is the newest message (quotes and signature already removed). Rules, not
    weights: an empty message (a bare attachment) ends no loop of its own; an auto-reply
    is recognised by the phrases mail servers and out-of-office rules use; a short line
    of thanks or "it works" with no question, negation or contrast closes the loop.
    """
    stripped = text.strip()
    if not _WORD.search(stripped):
        return "a bare attachment" if has_attachments else "an empty message"
    if _AUTO_REPLY.search(stripped):
        return "an auto-reply"
    if _is_acknowledgement(stripped):
        return "an acknowledgement"
    return None


# --- is an engineer's comment a question to the bot? --------------------------------------


def _address_pattern(bot_names: Iterable[str]) -> re.Pattern[str]:
    names = sorted({n.strip() for n in bot_names if n.strip()}, key=len, reverse=True)
    alternatives = [re.escape(QUESTION_PREFIX), *(re.escape(n) for n in names)]
    return re.compile(
        r"^\s*@?(?:" + "|".join(alternatives) + r")(?![0-9a-zа-яё_-])[\s,:;.!—–-]*",
        re.IGNORECASE,
    )


def question_text(
    comment: PyrusComment, bot_id: int | None, bot_names: Sequence[str]
) -> str | None:
    """The question for the bot (its address removed), or None when it is not addressed."""
    text = (comment.text or "").strip()
    mentions = getattr(comment, "mentions", None) or []
    mentioned = bot_id is not None and any(_person_id(m) == bot_id for m in mentions)
    match = _address_pattern(bot_names).match(text)
    if not mentioned and match is None:
        return None
    rest = text[match.end() :] if match is not None else text
    if mentioned:  # Pyrus puts the mentioned name into the text; drop it when it leads
        rest = _address_pattern(bot_names).sub("", rest, count=1)
    return rest.strip()


def bot_names_in(task: PyrusTask, bot_id: int | None) -> list[str]:
    """The bot's display name as its own comments carry it: Pyrus writes a mention as it."""
    names = []
    for comment in task.comments:
        author = comment.author
        if author is not None and bot_id is not None and author.id == bot_id:
            full = " ".join(p for p in (author.first_name, author.last_name) if p).strip()
            names += [name for name in (full, (author.first_name or "").strip()) if name]
    return list(dict.fromkeys(names))


def _replies_to_bot(task: PyrusTask, comment: PyrusComment, bot_id: int | None) -> bool:
    target = (comment.model_extra or {}).get("reply_note_id")
    parent = next((c for c in task.comments if c.id == target), None)
    return parent is not None and comment_role(parent, task, bot_id) == "bot"


# --- the turn a comment is -----------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """A comment the bot answers: its kind, the comment and its text to answer."""

    kind: TurnKind
    comment: PyrusComment
    text: str


def classify_turn(
    task: PyrusTask,
    comment: PyrusComment,
    bot_id: int | None,
    bot_names: Sequence[str] = DEFAULT_BOT_NAMES,
) -> Turn | str:
    """The turn this comment is, or the reason it gets no answer."""
    role = comment_role(comment, task, bot_id)
    if role == "bot":
        return "the last comment is the bot's own"
    if role == "staff":
        names = [*bot_names, *bot_names_in(task, bot_id)]
        question = question_text(comment, bot_id, names)
        if question is None and _replies_to_bot(task, comment, bot_id):
            question = (comment.text or "").strip()  # a threaded reply under the bot's comment
        if question is None:
            return "a staff comment not addressed to the bot"
        if not _WORD.search(question):
            return "a question to the bot without text"
        return Turn("question", comment, question)
    newest = latest_message(comment.text or "")
    attachments = getattr(comment, "attachments", None) or []
    reason = no_answer_reason(newest, has_attachments=bool(attachments))
    if reason is not None:
        return f"needs no answer: {reason}"
    return Turn("follow_up", comment, newest)


# --- what the thread already established ---------------------------------------------------

CONTEXT_ITEM_CHARS = 700
"""Each earlier message is cut to this: the context is a reminder, not the whole thread."""


@dataclass
class ThreadContext:
    """The parts of a thread a turn's suggestion must know (all still unmasked)."""

    subject: str
    first_question: str
    earlier_customer: list[str] = field(default_factory=list)
    staff_replies: list[str] = field(default_factory=list)
    bot_steps: list[str] = field(default_factory=list)

    def already_given(self) -> list[str]:
        """Steps and replies the customer or the engineer has already seen."""
        return [*self.bot_steps, *self.staff_replies]


def _short(text: str) -> str:
    text = latest_message(text or "").strip()
    return text if len(text) <= CONTEXT_ITEM_CHARS else text[:CONTEXT_ITEM_CHARS] + "…"


def thread_context(task: PyrusTask, before_comment_id: int, bot_id: int | None) -> ThreadContext:
    """The thread up to (not including) the triggering comment."""
    ticket = ticket_from_task(task)
    context = ThreadContext(
        subject=ticket.subject,
        first_question=_short(ticket.description),
        bot_steps=bot_steps(task, before_comment_id, bot_id),
    )
    earlier = [c for c in task.comments if c.id != before_comment_id]
    earlier = [c for c in earlier if c.id < before_comment_id] or earlier
    for comment in earlier[1:]:
        if not (comment.text or "").strip():
            continue
        role = comment_role(comment, task, bot_id)
        if role == "customer":
            context.earlier_customer.append(_short(comment.text or ""))
        elif role == "staff" and isinstance(comment.channel, dict):
            context.staff_replies.append(_short(comment.text or ""))
    return context


_NUMBERED = re.compile(r"^\s*\d{1,2}[.)]\s+(.+)$")


def bot_steps(task: PyrusTask, before_comment_id: int, bot_id: int | None) -> list[str]:
    """The numbered steps of the bot's own earlier comments: what the engineer already saw.

    Read from the thread, not from the suggestion log, so a holdout ticket (nothing
    posted, nothing seen) has none, and `kb ask --thread` works on a bare ticket file.
    """
    steps = []
    for comment in task.comments:
        if comment.id >= before_comment_id or comment_role(comment, task, bot_id) != "bot":
            continue
        for line in (comment.text or "").splitlines():
            match = _NUMBERED.match(line)
            if match:
                steps.append(match.group(1).strip())
    return steps
