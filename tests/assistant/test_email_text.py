"""`latest_message`: the newest message of e-mail threads as Pyrus receives them."""

from __future__ import annotations

import pytest

from assistant.email_text import latest_message

NEW = "Не загружается справочник из Excel на 20 тысяч строк, выдаёт ошибку."


@pytest.mark.parametrize(
    "history",
    [
        # Outlook (Russian UI)
        "От: Поддержка Pyrus <help@pyrus.com>\nОтправлено: 2 декабря 2026 г. 10:15\n"
        "Кому: Иван Петров\nТема: RE: справочник\n\nЗдравствуйте! Разбейте файл на части.",
        # Outlook (English UI), bold markers from HTML
        "*From:* Pyrus Support <help@pyrus.com>\n*Sent:* Monday, December 2, 2026 10:15 AM\n"
        "*To:* Ivan\n*Subject:* RE: catalog\n\nHello! Split the file.",
        # Gmail (Russian)
        "пн, 2 дек. 2026 г. в 10:15, Поддержка Pyrus <help@pyrus.com>:\n"
        "> Здравствуйте! Разбейте файл на части.",
        # Yandex
        '02.12.2026, 10:15, "Поддержка Pyrus" <help@pyrus.com>:\n> Разбейте файл на части.',
        # Apple Mail
        "2 дек. 2026 г., в 10:15, Поддержка Pyrus написал(а):\n\n> Разбейте файл на части.",
        # Original message separator
        "-----Original Message-----\nFrom: help@pyrus.com\nРазбейте файл на части.",
        "-------- Исходное сообщение --------\nРазбейте файл на части.",
        # plain quote marks
        "> Здравствуйте!\n> Разбейте файл на части.\n>\n> Ольга, служба поддержки",
    ],
)
def test_quoted_history_is_cut(history: str) -> None:
    text = f"Добрый день!\n{NEW}\n\n{history}"
    assert latest_message(text) == f"Добрый день!\n{NEW}"


def test_signature_phones_and_disclaimer_go() -> None:
    text = (
        f"Добрый день!\n\n{NEW}\n\nС уважением,\nИван Петров\nменеджер ООО «Ромашка»\n"
        "тел. +7 912 000-00-00\n\nОтправлено с iPhone\n\n"
        "Это сообщение и все вложения конфиденциальны и предназначены только для адресата."
    )
    assert latest_message(text) == f"Добрый день!\n\n{NEW}"


def test_a_bare_thanks_before_a_name_line_is_a_sign_off() -> None:
    text = f"{NEW} Перезвоните, пожалуйста.\n\nСпасибо.\n\nКсения Зайцева, АНО «Центр»"
    assert latest_message(text) == f"{NEW} Перезвоните, пожалуйста."


def test_a_forward_with_no_words_of_its_own_keeps_the_forwarded_problem() -> None:
    text = (
        "Пересылаю.\n\n---------- Forwarded message ---------\n"
        "От: Бухгалтерия <buh@example.ru>\nДата: пн, 2 дек. 2026 г. в 09:00\nТема: справочник\n\n"
        f"{NEW}"
    )
    result = latest_message(text)
    assert NEW in result
    assert "Forwarded message" not in result
    assert "buh@example.ru" not in result  # the header block went with the marker


def test_the_customers_own_text_is_never_cut() -> None:
    own = (
        "При сохранении система пишет:\nОшибка: too_many_catalog_items\n"
        "От: отдела закупок пришёл файл на 20 000 строк.\n"
        "Спасибо\n" + "\n".join(f"{i}. строка лога {i}" for i in range(1, 10))
    )
    assert latest_message(own) == own  # a long tail after «Спасибо» is not a signature
    assert latest_message("") == ""
    assert latest_message("Спасибо") == "Спасибо"


def test_windows_line_endings() -> None:
    text = f"{NEW}\r\n\r\n-----Original Message-----\r\nold"
    assert latest_message(text) == NEW


def test_the_classifier_and_the_bot_read_a_ticket_alike() -> None:
    """Training texts (`ticket_text`) and the bot's query (`ticket_query`) drop the same parts."""
    from assistant.bot.suggest import ticket_query
    from assistant.categorization.model_store import ticket_text

    description = f"{NEW}\n\nС уважением,\nИван\n\n-----Original Message-----\nстарое письмо"
    assert ticket_text("RE: справочник", description) == f"RE: справочник\n{NEW}"
    assert ticket_query("RE: справочник", description) == f"RE: справочник\n{NEW}"
    assert ticket_text("Тема", None) == "Тема"


def test_a_short_reply_stays_short_and_a_bare_pointer_keeps_the_thread() -> None:
    assert latest_message("Ещё раз проверьте.\n> старое письмо клиента") == "Ещё раз проверьте."
    pointer = f"См. ниже\n\n-----Original Message-----\nFrom: buh@example.ru\nSent: вчера\n\n{NEW}"
    assert NEW in latest_message(pointer)
