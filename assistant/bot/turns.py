"""A suggestion for one conversation turn: a customer's follow-up or an engineer's question.

Builds on the ticket suggester (`suggest.py`) instead of a second one: the same masking,
retrieval, LLM call and citation checks, with a prompt variant that also gets the thread
(`assistant/llm/prompts/followup.md`, `question.md`) and a query made of the new message.
What is new here is what a turn needs on top:

* the thread the suggestion must know (`conversation.thread_context`), masked and wrapped
  as data in the prompt;
* steps already given in the thread — by the bot's earlier comments or in the engineer's
  replies — are dropped from the new suggestion (`drop_repeated`), and when nothing new is
  left the comment says so instead of repeating itself;
* an answer to a question is short, for the engineer, and carries a customer draft only
  when the question asks for one.

`turn_job.handle_turn` runs a turn as an inbox job; docs/conversation.md describes the
behaviour.
"""

from __future__ import annotations

import copy
import dataclasses
import html
import re
from typing import Any

from assistant.bot.answer_selection import lexical_similarity
from assistant.bot.comment_format import HEADING, CommentBody, format_comment
from assistant.bot.conversation import ThreadContext, Turn
from assistant.bot.models import Suggestion
from assistant.bot.pyrus_models import (
    DESCRIPTION_MAX_CHARS,
    PyrusTask,
    safe_ticket,
    ticket_from_task,
)
from assistant.bot.reply_text import neutralize
from assistant.bot.suggest import Suggester
from assistant.knowledge.text import terms
from assistant.llm.prompt import Prompt, load_prompt

FOLLOW_UP_HEADING = f"{HEADING}: новое сообщение клиента"
QUESTION_HEADING = "Ответ ИИ-помощника на вопрос"
NOTHING_NEW = (
    "Шаги, найденные в базе знаний, уже предложены в этой заявке. Новых шагов нет: уточните у "
    "клиента, что именно не получилось, или передайте вопрос на вторую линию."
)
REPEAT_SIMILARITY = 0.6
"""A step sharing this much of its stem set (cosine) with a given step is the same step.

Reworded copies of one instruction share most stems; two different steps of one article
share the topic words only. 0.6 is "most", not fitted to any sample."""
SHORT_QUERY_TERMS = 6
"""A question with fewer search terms than this («/kb что посоветуешь?») is searched
together with the ticket's first message: on its own it names no topic."""
DRAFT_ALREADY_SENT = (
    "Черновик не предложен: похожий ответ клиенту уже отправлен в этой заявке — нужен другой "
    "шаг или уточнение у клиента."
)
_DRAFT_ASKED = re.compile(
    r"черновик|ответ\w* клиент|что ответить|как ответить|напиши\w* клиент|draft", re.IGNORECASE
)


# --- the suggestion for a turn --------------------------------------------------------------


@dataclasses.dataclass
class TurnSuggestion:
    """The suggestion for a turn, its comment, and how many repeated steps were dropped."""

    suggestion: Suggestion
    body: CommentBody
    repeated_steps: int
    masked_text: str


def masker(task: PyrusTask) -> Any:
    ticket = ticket_from_task(task)

    def mask(text: str) -> str:
        bounded = dataclasses.replace(ticket, description=text[:DESCRIPTION_MAX_CHARS])
        return safe_ticket(bounded).description

    return mask


def thread_for_prompt(context: ThreadContext, mask: Any) -> str:
    """The thread as the prompt's <thread> block: masked, neutralized, no template braces."""
    parts = [f"Тема: {context.subject}", f"Первое обращение клиента: {context.first_question}"]
    parts += [f"Клиент писал позже: {text}" for text in context.earlier_customer]
    parts += [f"Сотрудник уже ответил клиенту: {text}" for text in context.staff_replies]
    if context.bot_steps:
        steps = "\n".join(f"- {step}" for step in context.bot_steps)
        parts.append(f"ИИ-помощник уже предлагал шаги:\n{steps}")
    text = neutralize(mask("\n\n".join(parts)))
    return text.replace("{", "(").replace("}", ")")


def drop_repeated(steps: list[str], given: list[str]) -> tuple[list[str], int]:
    """Steps not already given in the thread (by the bot or in a staff reply)."""
    lines = [
        line.strip()
        for text in given
        for line in re.split(r"\n|(?<=[.!?])\s+", text)
        if len(terms(line)) >= 2
    ]
    if not lines:
        return steps, 0
    kept = [step for step in steps if max(lexical_similarity(step, lines)) < REPEAT_SIMILARITY]
    return kept, len(steps) - len(kept)


def repeats_a_sent_reply(draft: str, staff_replies: list[str]) -> bool:
    """The draft says again what a staff reply already sent to the customer said."""
    if not draft.strip() or not staff_replies:
        return False
    return max(lexical_similarity(draft, staff_replies)) >= REPEAT_SIMILARITY


def _retitle(body: CommentBody, heading: str, intro: list[str]) -> CommentBody:
    """The ticket comment's layout under a turn's heading, with the turn's intro lines."""
    old_html = f"<p><b>{html.escape(HEADING)}</b></p>"
    new_html = f"<p><b>{html.escape(heading)}</b></p>" + "".join(
        f"<p>{html.escape(line)}</p>" for line in intro
    )
    text = body.text.replace(HEADING, "\n".join([heading, *intro]), 1)
    return dataclasses.replace(
        body, text=text, formatted_text=body.formatted_text.replace(old_html, new_html, 1)
    )


def _quote(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return f"«{flat if len(flat) <= limit else flat[:limit] + '…'}»"


def suggest_turn(
    suggester: Suggester,
    task: PyrusTask,
    turn: Turn,
    context: ThreadContext,
    *,
    category_names: dict[str, str] | None = None,
    draft_field_id: int | None = None,
    prompts: dict[str, Prompt] | None = None,
    exclude_document_ids: frozenset[str] = frozenset(),
) -> TurnSuggestion:
    """Suggest for one turn with the thread in mind; never raises for LLM trouble.

    `exclude_document_ids`: an evaluation on past threads keeps a ticket from finding
    itself (as `Suggester.suggest` does for replays)."""
    mask = masker(task)
    ticket = safe_ticket(ticket_from_task(task))
    masked = mask(turn.text)
    subject = ticket.subject
    if turn.kind == "follow_up" or len(terms(masked)) < SHORT_QUERY_TERMS:
        # a follow-up is about the ticket's problem: «проверила ещё раз — то же самое»
        # names no topic, the first question does
        subject = f"{subject}\n{mask(context.first_question)}"
    prompt = (prompts or {}).get(turn.kind) or load_prompt(
        "followup" if turn.kind == "follow_up" else "question"
    )
    thread = thread_for_prompt(context, mask)
    turn_suggester = copy.copy(suggester)
    turn_suggester.prompt = dataclasses.replace(
        prompt, user_template=prompt.user_template.replace("{thread}", thread)
    )
    suggestion = turn_suggester.suggest(
        subject,
        masked,
        customer_name=ticket.customer_name,
        exclude_document_ids=exclude_document_ids,
    )
    repeated = 0
    if turn.kind == "follow_up":  # an engineer who asks gets the answer, seen before or not
        steps, repeated = drop_repeated(suggestion.steps, context.already_given())
        suggestion = dataclasses.replace(suggestion, steps=steps)
    names = category_names or {}
    if turn.kind == "question":
        suggestion = dataclasses.replace(
            suggestion,
            category_code=None,
            category_decision=None,
            draft_reply=suggestion.draft_reply if _DRAFT_ASKED.search(turn.text) else "",
        )
        body = format_comment(suggestion, draft_field_id=None)
        intro = [f"Вопрос: {_quote(masked)}"]
        body = _retitle(body, QUESTION_HEADING, intro)
        body = dataclasses.replace(body, reply_note_id=turn.comment.id)
    else:
        sent_again = repeats_a_sent_reply(suggestion.draft_reply, context.staff_replies)
        if sent_again:
            suggestion = dataclasses.replace(suggestion, draft_reply="")
        body = format_comment(
            suggestion,
            category_name=names.get(suggestion.category_code or ""),
            draft_field_id=draft_field_id,
        )
        intro = [f"Новое сообщение: {_quote(masked)}"]
        if repeated and not suggestion.steps and suggestion.mode != "no_match":
            intro.append(NOTHING_NEW)
        if sent_again:
            intro.append(DRAFT_ALREADY_SENT)
        body = _retitle(body, FOLLOW_UP_HEADING, intro)
    return TurnSuggestion(suggestion, body, repeated, masked)
