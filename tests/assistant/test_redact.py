"""Personal data is masked before a ticket becomes a query."""

from __future__ import annotations

import pytest

from assistant.redact import redact, redact_with_counts


@pytest.mark.parametrize(
    ("text", "kind", "secret"),
    [
        ("Логин olga.smirnova@mail.example, помогите", "email", "olga.smirnova@mail.example"),
        ("Звоните +7 (903) 555-01-01 после обеда", "phone", "555-01-01"),
        ("мой номер 89035550101", "phone", "89035550101"),
        ("Карта 4111 1111 1111 1111 списали дважды", "card", "4111 1111 1111 1111"),
        ("карта 4111-1111-1111-1111", "card", "4111-1111-1111-1111"),
        ("по договору № 12-345/2024 не пришёл счёт", "contract", "12-345/2024"),
        ("Счёт 778899 не оплачен", "contract", "778899"),
        (
            "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
            "token",
            "eyJhbGciOiJIUzI1NiJ9",
        ),
        ("ключ API sk-live_abcdefghijklmnop1234", "token", "abcdefghijklmnop1234"),
        (
            "security key 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "token",
            "9f86d081884c7d659a2feaa0c55ad015",
        ),
    ],
)
def test_masks_each_kind(text: str, kind: str, secret: str) -> None:
    result = redact_with_counts(text)
    assert secret not in result.text
    assert f"[{kind}]" in result.text
    assert result.counts[kind] >= 1


def test_keeps_what_retrieval_needs() -> None:
    text = "Ошибка 403 access_denied_form на шаге 2, форма 321456, с 10:30 12.11.2026"
    assert redact(text) == text


def test_contract_keyword_survives_for_retrieval() -> None:
    assert redact("по договору № 12-345/2024") == "по договору [contract]"


def test_several_items_in_one_text() -> None:
    result = redact_with_counts(
        "Пишу с olga@example.ru и anna@example.ru, тел. +7 903 555 01 01, карта 5555555555554444"
    )
    assert result.counts == {"email": 2, "phone": 1, "card": 1}
    assert "example.ru" not in result.text
