"""`kb eval answers --threads`: the bot on conversation turns (docs/conversation.md).

Three figures, all from past threads (the sample's `pyrus_tasks.jsonl`, or an export of
your own tickets in the same shape):

* **which messages need an answer** — every customer message after the opening one is
  labelled by what the staff did next: a public reply means it needed one; closing the
  ticket without replying means it did not. The classifier (`conversation.classify_turn`)
  is scored against that label (it never sees it);
* **follow-ups** — for messages that needed an answer, the follow-up suggestion is made
  as the bot makes it (the thread before the message, the ticket itself excluded from
  retrieval), and compared with the staff reply that followed *that* message (chrF) —
  next to the ticket's first suggestion made now, which is what a bot that does not read
  the thread would repeat; it also counts steps repeating what the thread already gave
  (before the filter: what the filter removed) and drafts that copy the first draft;
* **questions** — each question of answers.jsonl asked by an engineer with `/kb` in a
  ticket about something else: the share of answers citing a relevant document, answered
  in the thread, with no customer draft (none was asked for).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.bot.answer_eval import AnswerCase, AnswerEvalError, chrf
from assistant.bot.answer_selection import lexical_similarity
from assistant.bot.conversation import Turn, classify_turn, comment_role, thread_context
from assistant.bot.pyrus_models import PyrusTask, safe_ticket, ticket_from_task
from assistant.bot.reply_text import draft_body
from assistant.bot.suggest import Suggester
from assistant.bot.turns import REPEAT_SIMILARITY, suggest_turn

COPY_CHRF = 90.0
"""A follow-up draft this close to the first draft (chrF) is the first draft again."""
QUESTION_OPENING = "Добрый день! Подскажите по нашему аккаунту, пожалуйста."
ENGINEER = {"id": 1, "first_name": "Инженер", "type": "user", "department_id": 1}


@dataclass(frozen=True)
class FollowUpCase:
    """A customer's later message, labelled by what the staff did next."""

    task: PyrusTask
    comment_id: int
    needed_answer: bool
    next_reply: str | None


def _is_public_reply(comment: Any) -> bool:
    return isinstance(comment.channel, dict) and bool(comment.channel.get("to"))


def follow_up_cases(path: Path) -> list[FollowUpCase]:
    """Customer messages after the opening one whose fate the thread shows."""
    cases = []
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as exc:
        raise AnswerEvalError(f"cannot read the threads file {path}: {exc}") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            task = PyrusTask.model_validate(json.loads(line))
        except ValueError as exc:
            raise AnswerEvalError(f"{path}:{number}: not a Pyrus task: {exc}") from exc
        comments = task.comments
        for index, comment in enumerate(comments[1:], 1):
            if comment_role(comment, task, None) != "customer":
                continue
            staff_next = next(
                (c for c in comments[index + 1 :] if comment_role(c, task, None) == "staff"),
                None,
            )
            if staff_next is None:
                continue
            if _is_public_reply(staff_next):
                cases.append(FollowUpCase(task, comment.id, True, staff_next.text or ""))
            elif (staff_next.model_extra or {}).get("action") == "finished":
                cases.append(FollowUpCase(task, comment.id, False, None))
    return cases


def classifier_figures(cases: Sequence[FollowUpCase]) -> dict[str, Any]:
    """How well "needs no answer" matches what the staff did."""
    quiet_right = quiet_wrong = spoke_right = spoke_wrong = 0
    examples: list[str] = []
    for case in cases:
        comment = next(c for c in case.task.comments if c.id == case.comment_id)
        quiet = not isinstance(classify_turn(case.task, comment, None), Turn)
        if quiet and not case.needed_answer:
            quiet_right += 1
        elif quiet:
            quiet_wrong += 1
            examples.append(f"silent on: {(comment.text or '')[:120]}")
        elif case.needed_answer:
            spoke_right += 1
        else:
            spoke_wrong += 1
            examples.append(f"answered: {(comment.text or '')[:120]}")
    quiet = quiet_right + quiet_wrong
    no_answer = quiet_right + spoke_wrong
    return {
        "messages": len(cases),
        "needed_answer": sum(case.needed_answer for case in cases),
        "no_answer_precision": round(quiet_right / quiet, 4) if quiet else None,
        "no_answer_recall": round(quiet_right / no_answer, 4) if no_answer else None,
        "missed_answers": quiet_wrong,
        "needless_answers": spoke_wrong,
        "examples": examples[:8],
    }


def _repeats(steps: Sequence[str], given: Sequence[str]) -> int:
    lines = [line for text in given for line in text.splitlines() if line.strip()]
    if not lines:
        return 0
    return sum(max(lexical_similarity(step, lines)) >= REPEAT_SIMILARITY for step in steps)


def follow_up_figures(
    cases: Sequence[FollowUpCase], suggester: Suggester, limit: int
) -> dict[str, Any]:
    """The follow-up suggestion against the reply that followed its message."""
    rows = []
    for case in [c for c in cases if c.needed_answer][:limit]:
        comment = next(c for c in case.task.comments if c.id == case.comment_id)
        turn = classify_turn(case.task, comment, None)
        if not isinstance(turn, Turn):
            continue  # counted by the classifier figures
        own = frozenset({f"pyrus:{case.task.id}"})
        context = thread_context(case.task, case.comment_id, None)
        made = suggest_turn(suggester, case.task, turn, context, exclude_document_ids=own)
        ticket = safe_ticket(ticket_from_task(case.task))
        first = suggester.suggest(ticket.subject, ticket.description, exclude_document_ids=own)
        follow_body, first_body = (
            draft_body(made.suggestion.draft_reply),
            draft_body(first.draft_reply),
        )
        reference = case.next_reply or ""
        rows.append(
            {
                "withheld": not follow_body,
                "chrf_follow_up": chrf(follow_body, reference) if follow_body else 0.0,
                "chrf_first": chrf(first_body, reference) if first_body else 0.0,
                "copies_first": bool(follow_body) and chrf(follow_body, first_body) >= COPY_CHRF,
                "repeated_dropped": made.repeated_steps,
                "repeats_left": _repeats(made.suggestion.steps, context.already_given()),
                "steps": len(made.suggestion.steps),
                "first_repeats": _repeats(first.steps, context.already_given()),
                "first_steps": len(first.steps),
            }
        )
    drafted = [r for r in rows if not r["withheld"]]
    n = len(drafted) or 1
    return {
        "follow_ups": len(rows),
        "drafts_withheld_as_already_sent": len(rows) - len(drafted),
        "chrf_vs_next_reply": round(sum(r["chrf_follow_up"] for r in drafted) / n, 1),
        "first_suggestion_chrf_vs_next_reply": round(sum(r["chrf_first"] for r in drafted) / n, 1),
        "first_suggestion_chrf_where_withheld": round(
            sum(r["chrf_first"] for r in rows if r["withheld"]) / ((len(rows) - len(drafted)) or 1),
            1,
        ),
        "drafts_copying_first": sum(r["copies_first"] for r in rows),
        "steps_dropped_as_repeats": sum(r["repeated_dropped"] for r in rows),
        "steps_repeating_thread": sum(r["repeats_left"] for r in rows),
        "steps_total": sum(r["steps"] for r in rows),
        "first_suggestion_steps_repeating_thread": sum(r["first_repeats"] for r in rows),
        "first_suggestion_steps_total": sum(r["first_steps"] for r in rows),
    }


def question_figures(cases: Sequence[AnswerCase], suggester: Suggester) -> dict[str, Any]:
    """Engineers' `/kb` questions in an unrelated ticket: the right source cited?"""
    cited = threaded = drafts = 0
    for number, case in enumerate(cases):
        task = PyrusTask.model_validate(
            {
                "id": 900_000_000 + number,
                "author": {"id": 2, "type": "user"},
                "comments": [
                    {"id": 1, "text": QUESTION_OPENING, "author": {"id": 2, "type": "user"}},
                    {"id": 2, "text": f"/kb {' '.join(case.question.split())}", "author": ENGINEER},
                ],
            }
        )
        turn = classify_turn(task, task.comments[-1], None)
        assert isinstance(turn, Turn)
        made = suggest_turn(suggester, task, turn, thread_context(task, 2, None))
        refs = [*made.suggestion.sources, *made.suggestion.similar_tickets]
        cited += bool({str(ref.document_id) for ref in refs} & case.relevant_doc_ids)
        threaded += made.body.reply_note_id == 2
        drafts += bool(made.suggestion.draft_reply)
    n = len(cases) or 1
    return {
        "questions": len(cases),
        "source_cited": round(cited / n, 4),
        "threaded": round(threaded / n, 4),
        "with_customer_draft": drafts,
    }


def format_turn_report(result: dict[str, Any]) -> str:
    """The turn figures as lines under `kb eval answers`."""
    c, f, q = result["classifier"], result["follow_ups"], result["questions"]
    lines = [
        "",
        f"conversation turns ({c['messages']} later customer messages, "
        f"{c['needed_answer']} answered by staff):",
        f"  needs-no-answer precision {c['no_answer_precision']}, recall "
        f"{c['no_answer_recall']}; missed answers {c['missed_answers']}, needless answers "
        f"{c['needless_answers']}",
        f"  follow-ups ({f['follow_ups']}, "
        f"{f['follow_ups'] - f['drafts_withheld_as_already_sent']} with a draft): "
        "chrF vs the reply to that message "
        f"{f['chrf_vs_next_reply']} (the first suggestion again: "
        f"{f['first_suggestion_chrf_vs_next_reply']}); drafts copying the first "
        f"{f['drafts_copying_first']}; withheld as already sent "
        f"{f['drafts_withheld_as_already_sent']}",
        f"  steps repeating the thread: {f['steps_repeating_thread']} of {f['steps_total']} "
        f"({f['steps_dropped_as_repeats']} dropped); the first suggestion again: "
        f"{f['first_suggestion_steps_repeating_thread']} of "
        f"{f['first_suggestion_steps_total']}",
        f"  engineer questions ({q['questions']}): right source cited {q['source_cited']:.1%}, "
        f"threaded {q['threaded']:.0%}, customer drafts {q['with_customer_draft']}",
    ]
    lines += [f"    {example}" for example in c["examples"]]
    return "\n".join(lines)


def turn_evaluation(threads: Path, cases: Sequence[AnswerCase], limit: int) -> Any:
    """What `run_answer_evaluation` runs on its suggester when `--threads` is given."""
    follow = follow_up_cases(threads)
    if not follow:
        raise AnswerEvalError(f"{threads}: no customer follow-ups with a staff reaction")

    def run(suggester: Suggester) -> dict[str, Any]:
        return {
            "classifier": classifier_figures(follow),
            "follow_ups": follow_up_figures(follow, suggester, limit),
            "questions": question_figures(cases, suggester),
        }

    return run
