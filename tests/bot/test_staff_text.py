"""Staff-facing sentences never reach a customer draft; customer sentences stay."""

from __future__ import annotations

import pytest

from assistant.bot.staff_text import (
    customer_safe,
    is_internal_section,
    is_staff_text,
    leaks,
    split_sentences,
    staff_rule,
)


@pytest.mark.parametrize(
    ("sentence", "rule"),
    [
        (
            "Если клиент пишет «Сотрудник не может добавить строку», у сотрудника нет прав.",
            "third_person_customer",
        ),
        ("Объясните клиенту, что достаточно выйти из подписчиков.", "third_person_customer"),
        ("Попросите клиентку прислать скриншот.", "third_person_customer"),
        ("Бухгалтерия пишет: «Нужен счёт для безналичной оплаты».", "quotes_a_customer"),
        ("Подробности — см. «Ошибка task_limit_exceeded».", "see_also_reference"),
        ("Похожий случай разбирали в #231552457.", "ticket_reference"),
        ("Инструкция: https://wiki.example.com/display/SUP/Billing", "internal_link"),
        ("Назначьте обращение на роль «Финансовый отдел».", "internal_work"),
        ("При сомнениях передавайте вопрос на вторую линию.", "internal_work"),
        ("Проверьте на тестовой организации.", "internal_work"),
    ],
)
def test_staff_sentences_are_recognised(sentence: str, rule: str) -> None:
    assert staff_rule(sentence) == rule


@pytest.mark.parametrize(
    "sentence",
    [
        "Здравствуйте, Марина!",
        "Откройте «Настройки формы» → «Доступы» и выдайте сотруднику уровень «Участник».",
        "В справочнике может быть не больше 15 000 элементов.",
        "Передадим запрос в финансовый отдел, счёт пришлём в течение двух рабочих дней.",
        "Обновите клиентское приложение до последней версии.",
        "У сотрудников разные уровни доступа в форме «Заказ клиента».",
        "Эскалация на руководителя не срабатывает, потому что в форме нет поля «Срок».",
        "Подробнее в справке: https://pyrus.com/ru/help/bots",
        "Если вопрос останется — ответьте на это сообщение, разберёмся.",
    ],
)
def test_customer_sentences_stay(sentence: str) -> None:
    assert not is_staff_text(sentence)


def test_customer_safe_drops_staff_sentences_and_renumbers_lists() -> None:
    text = (
        "Если письмо не приходит:\n"
        "1. Проверьте папку «Спам».\n"
        "2. Найдите адрес клиента в журнале рассылок.\n"
        "3. Укажите другой адрес в профиле. См. «Почта: отказы».\n"
        "Клиент пишет, что письма нет."
    )
    safe = customer_safe(text)
    assert safe == (
        "Если письмо не приходит:\n1. Проверьте папку «Спам».\n2. Укажите другой адрес в профиле."
    )
    assert leaks(safe) == []
    assert [rule for rule, _ in leaks(text)] == [
        "third_person_customer",
        "see_also_reference",
        "third_person_customer",
    ]


def test_sentences_split_on_end_punctuation_but_not_after_see() -> None:
    assert split_sentences("Первое. См. «Статья». Третье!") == [
        "Первое.",
        "См. «Статья».",
        "Третье!",
    ]


def test_internal_sections_by_heading() -> None:
    assert is_internal_section("Внутренняя заметка")
    assert is_internal_section("Для сотрудников поддержки")
    assert is_internal_section("Симптомы")
    assert not is_internal_section("Что ответить клиенту")
    assert not is_internal_section("Решение")


@pytest.mark.parametrize(
    "signature",
    [
        "Ольга, служба поддержки Pyrus",
        "Иван Петров, отдел технической поддержки",
        "С уважением, Ольга",
    ],
)
def test_a_colleagues_signature_from_a_past_reply_is_not_in_the_draft(signature: str) -> None:
    from assistant.bot.reply_text import draft_from_resolution

    past_reply = f"Здравствуйте!\nБез cookies интерфейс Pyrus не работает.\n{signature}"
    draft = draft_from_resolution(past_reply, [], "Марина")
    assert "Без cookies интерфейс Pyrus не работает." in draft
    assert signature not in draft


def test_passages_are_ranked_lexically_when_the_embedder_is_too_slow_for_live_passages() -> None:
    from assistant.bot.answer_selection import lexical_similarity, similarities

    class SlowEmbedder:
        cheap_passages = False

        def embed(self, texts: list[str]) -> None:
            raise AssertionError("must not embed candidate passages live")

    texts = ["Сбросьте пароль в профиле", "Оплата по счёту для юрлица"]
    query = "не могу сбросить пароль"
    assert similarities(query, texts, SlowEmbedder()) == lexical_similarity(query, texts)
