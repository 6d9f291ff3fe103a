"""The reply-text rules: one greeting, sign-off and panel rule for steps, drafts and past
replies alike (`assistant/bot/reply_text.py`)."""

from __future__ import annotations

from assistant.bot.reply_text import (
    CLOSING_LINE,
    answers_nothing,
    customer_lines,
    draft_body,
    draft_from_resolution,
    is_reply_heading,
    passage_steps,
    reads_as_reply,
    resolution_text,
)


def test_one_greeting_rule_for_past_replies_drafts_and_steps() -> None:
    # «Доброе утро» was a greeting for drafts and steps but not for past replies: one rule now
    for greeting in ("Доброе утро, Ольга!", "Добрый день!", "Здравствуйте, Иван."):
        assert resolution_text(f"Решение:\n{greeting}\nВключите опцию «Уведомления».") == (
            "Включите опцию «Уведомления»."
        )
        assert customer_lines(f"> {greeting} Включите опцию.") == "Включите опцию."
        assert reads_as_reply(f"{greeting}\nВключите опцию.")
        assert passage_steps(f"1. {greeting}\n2. Включите опцию «Уведомления».") == [
            "Включите опцию «Уведомления»."
        ]


def test_customer_lines_drop_what_a_customer_should_not_read() -> None:
    text = (
        "Панель: Настройки → Формы\n"
        "Откройте форму и включите поле.\n"
        "| Поле | Тип |\n"
        'POST /v4/tasks {"id": 1}\n'
        "Ольга, служба поддержки Pyrus\n"
        "С уважением, Анна"
    )
    assert customer_lines(text) == "Откройте форму и включите поле."


def test_what_answers_nothing() -> None:
    assert answers_nothing("Симптомы", "Клиент пишет: письмо не пришло.")
    assert answers_nothing("См. также", "- «Формы и поля»\n- «Доступы и роли».")
    assert not answers_nothing("Решение", "Откройте настройки и включите опцию.")
    assert is_reply_heading("Отчёты › Что ответить клиенту")
    assert not is_reply_heading("Решение")


def test_draft_body_takes_off_what_draft_from_resolution_puts_on() -> None:
    body = "Откройте «Настройки» и включите опцию."
    draft = draft_from_resolution(body, [], "Анна", already_extracted=True)
    assert draft.startswith("Здравствуйте, Анна!")
    assert draft.endswith(CLOSING_LINE)
    assert draft_body(draft) == body
