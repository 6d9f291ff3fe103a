"""Link forms in staff replies: every Confluence and Pyrus shape resolves to a document."""

from __future__ import annotations

import base64

import pytest

from assistant.knowledge.learning.answer_links import (
    CONFLUENCE_LINK,
    TICKET_LINK,
    Directory,
    extract_links,
    tiny_to_page_id,
)


def _directory() -> Directory:
    directory = Directory(ticket_ids={231006251, 231000777})
    directory.add_page("884736", "SUP", "VPN-агент: перезапуск и диагностика")
    directory.add_page("1900106", "SUP", "Вложения, черновики и лимиты файлов")
    return directory


def _tiny(page_id: int) -> str:
    """Confluence's own encoding, written independently of the decoder under test."""
    raw = page_id.to_bytes(8, "little").rstrip(b"\0")
    return base64.b64encode(raw).decode().rstrip("=").replace("/", "-").replace("+", "_")


def test_tiny_link_decodes_the_documented_example() -> None:
    assert tiny_to_page_id("AIAN") == 884736  # docs/confluence-api.md: /x/AIAN ↔ 884736


@pytest.mark.parametrize("page_id", [1900106, 884736, 98765432101, 65536])
def test_tiny_link_round_trips(page_id: int) -> None:
    assert tiny_to_page_id(_tiny(page_id)) == page_id


@pytest.mark.parametrize(
    "text",
    [
        "См. https://wiki.example.ru/pages/viewpage.action?pageId=1900106",
        "ссылка wiki.example.ru/pages/viewpage.action?spaceKey=SUP&pageId=1900106 там всё",
        "https://corp.atlassian.net/wiki/spaces/SUP/pages/1900106/Вложения+черновики",
        "https://wiki.example.ru/display/SUP/Вложения,+черновики+и+лимиты+файлов",
        "https://wiki.example.ru/display/SUP/%D0%92%D0%BB%D0%BE%D0%B6%D0%B5%D0%BD%D0%B8%D1%8F%2C"
        "+%D1%87%D0%B5%D1%80%D0%BD%D0%BE%D0%B2%D0%B8%D0%BA%D0%B8+%D0%B8+%D0%BB%D0%B8%D0%BC%D0%B8"
        "%D1%82%D1%8B+%D1%84%D0%B0%D0%B9%D0%BB%D0%BE%D0%B2",
        f"коротко: https://wiki.example.ru/x/{_tiny(1900106)}.",
        '<a href="https://wiki.example.ru/pages/viewpage.action?pageId=1900106">статья</a>',
    ],
)
def test_every_confluence_link_form_resolves(text: str) -> None:
    labels = extract_links(text, _directory())
    assert [(lab.document_id, lab.method) for lab in labels] == [
        ("confluence:1900106", CONFLUENCE_LINK)
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Решали в https://pyrus.com/t#id231006251",
        "то же, что https://pyrus.corp.local/t#id231006251 на нашем сервере",
        "как в #231006251",
        "см. задачу 231006251",
        "аналогично заявке №231006251",
        "Обращение #231006251 — та же причина",
    ],
)
def test_every_ticket_reference_resolves(text: str) -> None:
    labels = extract_links(text, _directory(), ticket_id=231000777)
    assert [(lab.document_id, lab.method) for lab in labels] == [("pyrus:231006251", TICKET_LINK)]


@pytest.mark.parametrize(
    "text",
    [
        "Заявка #4412 в вашей форме прошла этап",  # a customer's own task, not ours
        "сумма 231006251 руб",  # a number, not a reference
        "https://wiki.example.ru/pages/viewpage.action?pageId=555",  # unknown page
        "https://wiki.example.ru/display/SUP/Нет+такой+статьи",
        "https://pyrus.com/t#id231000777",  # the ticket itself
    ],
)
def test_unknown_or_self_references_are_dropped(text: str) -> None:
    assert extract_links(text, _directory(), ticket_id=231000777) == []


def test_each_document_once_in_first_seen_order() -> None:
    text = (
        "https://pyrus.com/t#id231006251 и https://wiki.example.ru/x/AIAN, "
        "ещё раз pageId=884736 и #231006251"
    )
    docs = [lab.document_id for lab in extract_links(text, _directory())]
    assert docs == ["confluence:884736", "pyrus:231006251"]
