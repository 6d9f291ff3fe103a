"""Issue #25 item 5: the LLM's output is checked before it reaches a comment.

The fake OpenAI-compatible server answers with a phishing link, a request for the card
number, a passport and a phone; the real `openai` client runs. Each such reply is
replaced by the retrieval-only suggestion with fallback reason `llm_unsafe`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from assistant.bot.comment_format import format_terminal
from assistant.bot.output_guard import OutputGuard, asks_for_secret, foreign_links
from assistant.bot.suggest import Suggester
from assistant.redact import PublicContacts
from tests.bot.test_suggest import (
    DESCRIPTION,
    SUBJECT,
    FakeCategorizer,
    FakeRetriever,
    default_docs,
    llm_for,
)

PUBLIC = PublicContacts.from_allow_list(["support@help.example.ru", "8 800 555-35-35"])


def _reply(draft: str, steps: list[str] | None = None) -> str:
    return json.dumps(
        {
            "recommendation_steps": steps or ["Проверьте журнал рассылок."],
            "cited_source_ids": ["S1"],
            "draft_reply": draft,
            "confidence": 0.8,
        },
        ensure_ascii=False,
    )


def _suggest(fake_llm: Any, content: str, guard: OutputGuard | None = None) -> Any:
    fake_llm.script(content)
    suggester = Suggester(
        FakeRetriever(default_docs()),
        FakeCategorizer(),
        llm_for(fake_llm),
        guard=guard or OutputGuard(PUBLIC, frozenset({"pyrus.com"})),
    )
    return suggester.suggest(SUBJECT, DESCRIPTION)


UNSAFE = [
    (
        "Здравствуйте! Войдите заново по ссылке https://pyrus-login.example.net/reset и "
        "введите логин.",
        "pyrus-login.example.net",
    ),
    ("Здравствуйте! Зайдите на secure-pyrus.ru/login и смените пароль там.", "secure-pyrus.ru"),
    ("Здравствуйте! Для проверки сообщите номер карты и срок её действия.", "номер карты"),
    ("Здравствуйте! Пришлите, пожалуйста, код из СМС, который вам пришёл.", "код из СМС"),
    ("Здравствуйте! Напишите в ответе ваш пароль — мы проверим вход.", "ваш пароль"),
    ("Здравствуйте! Назовите CVC с обратной стороны карты.", "CVC"),
    ("Здравствуйте! Мы сверили паспорт 4510 123456, всё верно.", "4510 123456"),
    ("Здравствуйте! Перезвоним вам на +7 916 123-45-67 сегодня.", "123-45-67"),
]


@pytest.mark.parametrize(("draft", "bad"), UNSAFE, ids=[bad for _, bad in UNSAFE])
def test_an_unsafe_draft_is_replaced_by_the_retrieval_only_one(
    fake_llm: Any, draft: str, bad: str
) -> None:
    suggestion = _suggest(fake_llm, _reply(draft))
    assert suggestion.mode == "retrieval_only"
    assert suggestion.fallback_reason == "llm_unsafe"
    assert (suggestion.llm_error or "").startswith("unsafe:")
    comment = format_terminal(suggestion)
    assert bad not in comment
    assert "другой адрес в профиле" in suggestion.draft_reply  # the past staff reply
    assert "не прошёл проверку безопасности" in comment


def test_a_phishing_link_in_the_steps_fails_the_reply_too(fake_llm: Any) -> None:
    suggestion = _suggest(
        fake_llm, _reply("Здравствуйте! Проверьте «Спам».", ["Откройте http://evil.example.com/x"])
    )
    assert suggestion.fallback_reason == "llm_unsafe"
    assert "evil.example.com" not in format_terminal(suggestion)


def test_safe_links_warnings_and_public_contacts_pass(fake_llm: Any) -> None:
    draft = (
        "Здравствуйте! Никогда не сообщайте никому код из СМС. Если не получится, "
        "напишите на support@help.example.ru или позвоните 8 800 555-35-35."
    )
    steps = [
        "Инструкция: https://wiki.example/pages/1",
        "Подробнее: https://help.pyrus.com/ru/article",
        "Позвоните клиенту: +7 916 123-45-67",
    ]
    suggestion = _suggest(fake_llm, _reply(draft, steps))
    assert suggestion.mode == "llm", suggestion.llm_error
    assert "support@help.example.ru" in suggestion.draft_reply  # the organisation's own
    assert "8 800 555-35-35" in suggestion.draft_reply
    assert "Никогда не сообщайте никому код из СМС." in suggestion.draft_reply
    assert suggestion.steps == [
        "Инструкция: https://wiki.example/pages/1",  # a given source
        "Подробнее: https://help.pyrus.com/ru/article",  # an allowed domain
        "Позвоните клиенту: [phone]",  # masked in place: steps are for the engineer
    ]


def test_a_link_to_the_organisations_own_domain_passes() -> None:
    from assistant.llm.client import LLMReply

    guard = OutputGuard(PublicContacts.from_allow_list(["@help.example.ru"]))
    reply = LLMReply(
        recommendation_steps=["См. https://kb.help.example.ru/a и https://evil.example.org/b"],
        cited_source_ids=["S1"],
        draft_reply="Здравствуйте!",
    )
    review = guard.review(reply, [])
    assert review.problem == "unsafe: a link not among the sources: https://evil.example.org/b"
    reply.recommendation_steps = ["См. https://kb.help.example.ru/a"]
    assert guard.review(reply, []).problem is None


def test_without_the_allow_list_a_link_elsewhere_fails(fake_llm: Any) -> None:
    draft = "Здравствуйте! Подробнее: https://help.pyrus.com/ru/article."
    suggestion = _suggest(fake_llm, _reply(draft), guard=OutputGuard())
    assert suggestion.fallback_reason == "llm_unsafe"


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("Сообщите, пожалуйста, номер вашей карты.", True),
        ("Please send your password to us.", True),
        ("Укажите в ответе одноразовый код.", True),
        ("Не сообщайте никому пароль и код из СМС.", False),
        ("Никогда не присылайте нам номер карты.", False),
        ("Сообщите, пожалуйста, номер заявки и скриншот ошибки.", False),
        ("Введите новый пароль дважды и нажмите «Сохранить».", False),
        ("Напишите, если не получится сбросить пароль.", False),
        ("Напишите нам, если код из СМС не придёт.", False),
        ("Отправьте нам, пожалуйста, ваш пароль.", True),
    ],
)
def test_asks_for_secret(text: str, asks: bool) -> None:
    assert (asks_for_secret(text) is not None) is asks


def test_foreign_links() -> None:
    text = "См. https://wiki.example/pages/1. и www.evil.ru, файл report.pdf, версия 4.2.1"
    assert foreign_links(text, ["https://wiki.example/pages/1"], []) == ["www.evil.ru"]
    assert foreign_links(text, [], ["evil.ru", "wiki.example"]) == []
