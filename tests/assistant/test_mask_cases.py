"""assistant/redact masks every case of tests/mask_cases.yaml as the file says.

The same file is run through the dbt macro in tests/dbt/test_mask_pii.py, so the bot
and the knowledge base mask the same forms the same way.
"""

from __future__ import annotations

import pytest

from assistant.masking.rules import snils_checksum_ok
from assistant.redact import PublicContacts, placeholders, redact, redact_with_counts
from tests import mask_cases

PUBLIC_ROWS, CASES = mask_cases.load()
PUBLIC = PublicContacts.from_rows((kind, value) for kind, value, _display in PUBLIC_ROWS)


@pytest.mark.parametrize("case", CASES, ids=[case.text[:40] for case in CASES])
def test_case(case: mask_cases.MaskCase) -> None:
    assert redact(case.text, PUBLIC if case.public else None) == case.masked


def test_public_contacts_are_masked_without_the_list() -> None:
    """The public cases mask the organisation's contacts too when nothing says they are
    public: the list is what keeps them."""
    for case in (c for c in CASES if c.public):
        assert redact(case.text) != case.masked
        assert len(placeholders(redact(case.text))) > len(placeholders(case.masked))


def test_masking_is_idempotent() -> None:
    """Masking a masked text changes nothing (the bot masks the LLM's output again)."""
    for case in CASES:
        public = PUBLIC if case.public else None
        assert redact(case.masked, public) == case.masked


@pytest.mark.parametrize(
    ("number", "valid"),
    [("11223344595", True), ("11223344596", False), ("00100199800", False), ("12345678964", True)],
)
def test_snils_control_sum(number: str, valid: bool) -> None:
    assert snils_checksum_ok(number) is valid


def test_counts_name_the_new_kinds() -> None:
    text = (
        "паспорт серии 4510 номер 987321, р/с 40702810900000012345, пароль: Zz9!, "
        "код из смс 1234, дата рождения 01.02.1990, ул. Тверская, д. 7, кв. 15"
    )
    counts = redact_with_counts(text).counts
    assert counts == {
        "passport": 1,
        "account": 1,
        "password": 1,
        "code": 1,
        "birth_date": 1,
        "address": 1,
    }


def test_allow_list_items_are_classified() -> None:
    public = PublicContacts.from_allow_list(
        ["support@Help.Example.ru", "@example.ru", "8 (800) 555-35-35", "ул. Ленина, д. 1", " "]
    )
    assert public.emails == {"support@help.example.ru"}
    assert public.domains == {"example.ru"}
    assert public.phones == {"8005553535"}
    assert public.texts == ("ул. Ленина, д. 1",)
    assert public.is_public("email", "anna@sub.example.ru")
    assert not public.is_public("email", "anna@notexample.ru")
    assert public.is_public("phone", "8005553535")


def test_public_contacts_from_documents_need_several_sources() -> None:
    """A contact in three sources is the organisation's; a customer's own, in two of their
    own tickets, is not."""
    documents = [
        ("page:1", "Пишите на support@help.example.ru"),
        ("page:2", "Горячая линия 8 800 555-35-35, support@help.example.ru"),
        ("customer:7", "Ответили на support@help.example.ru, звоните +7 (800) 555-35-35"),
        ("customer:8", "Перезвоним на +7 916 123-45-67"),
        ("customer:8", "Клиент просил писать на ivan@mail.ru, +7 916 123-45-67"),
        ("customer:8", "Копия на ivan@mail.ru"),
    ]
    public = PublicContacts.from_documents(documents)
    assert public.emails == {"support@help.example.ru"}
    assert public.phones == set()  # the hotline is in two sources only
    assert PublicContacts.from_documents(documents, min_sources=2).phones == {"8005553535"}
