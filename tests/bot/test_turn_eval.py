"""The conversation-turn evaluation on a few hand-written threads (labels from staff actions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assistant.bot.answer_eval import AnswerCase
from assistant.bot.turn_eval import (
    classifier_figures,
    follow_up_cases,
    follow_up_figures,
    format_turn_report,
    question_figures,
)
from tests.bot.test_suggest import make_suggester

CUSTOMER = {"id": 10, "first_name": "Ольга", "type": "user"}
STAFF = {"id": 20, "first_name": "Марина", "type": "user", "department_id": 1}
IN = {"type": "email", "from": {"email": "o@mail.example", "name": "Ольга"}}
OUT = {"type": "email", "to": {"email": "o@mail.example", "name": "Ольга"}}


def _thread(task_id: int, *later: dict[str, Any]) -> dict[str, Any]:
    opening = {
        "id": task_id * 10,
        "text": "Не приходит письмо для сброса пароля, нажимаю «Забыли пароль».",
        "author": CUSTOMER,
        "channel": IN,
    }
    reply = {
        "id": task_id * 10 + 1,
        "text": "Здравствуйте! Проверьте папку «Спам» и фильтры почты.",
        "author": STAFF,
        "channel": OUT,
    }
    return {"id": task_id, "author": CUSTOMER, "comments": [opening, reply, *later]}


def _threads(tmp_path: Path) -> Path:
    rows = [
        _thread(
            1,
            {"id": 12, "text": "Спам проверила, письма нет.", "author": CUSTOMER, "channel": IN},
            {
                "id": 13,
                "text": "Найдите адрес в журнале рассылок.",
                "author": STAFF,
                "channel": OUT,
            },
        ),
        _thread(
            2,
            {"id": 22, "text": "Спасибо, пришло!", "author": CUSTOMER, "channel": IN},
            {"id": 23, "text": "Закрываю.", "author": STAFF, "action": "finished"},
        ),
        _thread(  # the classifier errs here: a thank-you the staff still answered
            3,
            {"id": 32, "text": "Спасибо!", "author": CUSTOMER, "channel": IN},
            {"id": 33, "text": "Рады помочь!", "author": STAFF, "channel": OUT},
        ),
        _thread(4, {"id": 42, "text": "Жду ответа", "author": CUSTOMER, "channel": IN}),
    ]
    path = tmp_path / "threads.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "utf-8")
    return path


def test_labels_come_from_what_the_staff_did(tmp_path: Path) -> None:
    cases = follow_up_cases(_threads(tmp_path))
    assert [(c.task.id, c.needed_answer) for c in cases] == [(1, True), (2, False), (3, True)]
    figures = classifier_figures(cases)
    assert figures["messages"] == 3
    assert figures["no_answer_precision"] == 0.5
    assert figures["no_answer_recall"] == 1.0
    assert figures["missed_answers"] == 1
    assert figures["examples"] == ["silent on: Спасибо!"]


def test_follow_ups_and_questions_are_scored(tmp_path: Path) -> None:
    cases = follow_up_cases(_threads(tmp_path))
    follow = follow_up_figures(cases, make_suggester(), limit=10)
    assert follow["follow_ups"] == 1
    assert follow["steps_repeating_thread"] == 0  # «Спам» was given by the staff
    assert follow["first_suggestion_steps_repeating_thread"] >= 1
    question = AnswerCase(
        "q1",
        "Что делать при статусе bounced в журнале рассылок?",
        "Попросите другой адрес.",
        frozenset({"page-1"}),
    )
    asked = question_figures([question], make_suggester())
    assert asked == {"questions": 1, "source_cited": 1.0, "threaded": 1.0, "with_customer_draft": 0}
    report = format_turn_report(
        {"classifier": classifier_figures(cases), "follow_ups": follow, "questions": asked}
    )
    assert "right source cited 100.0%" in report
