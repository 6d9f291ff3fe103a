"""Steps for the engineer never come from a sample reply to a customer."""

from __future__ import annotations

from types import SimpleNamespace

from assistant.bot.compose import compose
from assistant.bot.reply_text import passage_steps, reads_as_reply

SECTIONS = {
    "confluence:1": [
        (
            "Как мы отвечаем",
            "Здравствуйте, Ольга!\nПонимаю, неприятно, когда заявка не уходит дальше.\n"
            "Поле «Цель платежа» обязательно на этапе, заполните его и нажмите «Согласовать».",
        ),
        (
            "Решение",
            "1. Найдите поле с красной рамкой: оно обязательно на этапе.\n"
            "2. Заполните его и нажмите «Согласовать» снова.\n",
        ),
    ]
}


def page(document_id: str, title: str) -> SimpleNamespace:
    return SimpleNamespace(
        document_id=document_id, source="confluence", title=title, text="", snippet=""
    )


def test_a_sample_reply_is_not_the_steps() -> None:
    result = compose(
        "Заявка не уходит дальше: жму «Согласовать», поле «Цель платежа» красное",
        [page("confluence:1", "Обязательные поля")],
        [],
        SECTIONS.get,
        None,
    )
    assert result.steps_source is not None
    assert result.steps_source.heading == "Решение"
    assert not any(step.startswith("Здравствуйте") for step in result.steps)
    assert result.steps[0].startswith("Найдите поле с красной рамкой")


def test_greetings_and_sign_offs_are_not_steps() -> None:
    assert reads_as_reply("Добрый день, Иван!\nПроверьте настройки.")
    assert not reads_as_reply("1. Откройте «Настройки».\n2. Проверьте журнал.")
    steps = passage_steps(
        "Здравствуйте, Ольга! Откройте «Настройки» → «Журнал рассылок». "
        "Найдите адрес клиента в журнале. С уважением, служба поддержки Pyrus."
    )
    assert steps == [
        "Откройте «Настройки» → «Журнал рассылок».",
        "Найдите адрес клиента в журнале.",
    ]


def ticket(document_id: str, title: str) -> SimpleNamespace:
    return SimpleNamespace(
        document_id=document_id, source="pyrus", title=title, text="", snippet=""
    )


def test_a_past_reply_sent_by_e_mail_never_carries_the_quoted_customer() -> None:
    """Another customer's quoted words (and the colleague's signature) stay out of the draft."""
    past = {
        "pyrus:7": [
            (
                "",
                "Вопрос: Справочник не загружается\nЗагружаем прайс на 30 000 строк — ошибка.\n\n"
                "Решение: Здравствуйте, Анна!\nВ справочнике не больше 15 000 элементов — "
                "разбейте файл на две части.\n\nС уважением,\nОльга\nслужба поддержки Pyrus\n\n"
                "пн, 2 дек. 2026 г. в 10:15, Анна Смирнова <anna@romashka.example>:\n"
                "> Наш директор Сергей Кузнецов требует загрузить прайс до вечера, "
                "договор №17 горит.",
            )
        ]
    }
    result = compose(
        "Не загружается справочник\nПрайс на 20 тысяч строк не загружается в справочник",
        [],
        [ticket("pyrus:7", "Справочник не загружается")],
        past.get,
        None,
    )
    assert result.draft_source is not None
    assert result.draft_source.document_id == "pyrus:7"
    assert "15 000" in result.draft_body
    for quoted in ("директор", "договор", "anna@", "Ольга", "С уважением"):
        assert quoted not in result.draft_body
