"""Russian normalisation, stemming and exact-token extraction."""

from __future__ import annotations

from assistant.knowledge.text import exact_tokens, normalize, terms, words


def test_inflected_forms_share_stems() -> None:
    assert set(terms("ошибки синхронизации кассы")) == set(terms("ошибка при синхронизации касс"))


def test_stop_words_and_yo_are_folded() -> None:
    assert words("Всё ещё не работает и не открывается") == ["работает", "открывается"]
    assert normalize("Ёлка\u00a0ЗЕЛЁНАЯ") == "елка зеленая"
    assert "и" not in words("кошка и собака")


def test_term_frequencies_are_kept() -> None:
    assert terms("поле поле поля").count(terms("поле")[0]) == 3


def test_exact_tokens_catch_codes_quotes_urls_and_ids() -> None:
    text = (
        "Ошибка E42 и ORA-12154, код 0x80070005, ответ too_many_requests (HTTP 429). "
        'Поле «Сумма договора», кнопка "Согласовать", задача 123456, файл vpn-agent.conf, '
        "см. https://wiki.example.ru/x?id=5, пишите support@company.ru."
    )
    tokens = exact_tokens(text)
    for expected in (
        "e42",
        "ora-12154",
        "0x80070005",
        "too_many_requests",
        "429",
        "сумма договора",
        "согласовать",
        "123456",
        "vpn-agent.conf",
        "https://wiki.example.ru/x?id=5",
        "support@company.ru",
    ):
        assert expected in tokens, expected
    assert len(tokens) == len(set(tokens))


def test_plain_prose_has_no_exact_tokens() -> None:
    assert exact_tokens("Сотрудник не видит заявки в реестре формы") == []


def test_decimal_numbers_are_not_ids() -> None:
    assert exact_tokens("сумма 1.500 рублей") == []
