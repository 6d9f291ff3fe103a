"""Finding 3: Russian identity documents and the sender's own name, e-mail and phone are
masked before the LLM and the posted comment (and the draft greets by first name only
when it is a plausible name).
"""

from __future__ import annotations

from typing import Any

import pytest

from assistant.llm.client import LLMClient
from assistant.redact import greeting_name, mask_person, redact, redact_with_counts
from sample_data.emulators.sandbox import Sandbox
from tests.bot.test_pipeline import Bot, bot_comments, new_task, suggestion_row, wait_finished

pytestmark = pytest.mark.db

# (text as customers write it, the part that must not leak, the placeholder kind)
CORPUS: list[tuple[str, str, str]] = [
    ("паспорт 4510 123456", "123456", "passport"),
    ("Паспорт РФ: 45 11 № 223344, выдан ОВД", "223344", "passport"),
    ("серия 45 10 номер 654321", "654321", "passport"),
    ("паспорт серия 4512 номер 778899", "778899", "passport"),
    ("СНИЛС 123-456-789 01", "789 01", "snils"),
    ("мой снилс: 112-233-445 95", "445 95", "snils"),
    ("СНИЛС 11223344595", "11223344595", "snils"),
    ("ИНН 7707083893", "7707083893", "inn"),
    ("инн физлица 500100732259", "500100732259", "inn"),
    ("ИНН: 771234567890", "771234567890", "inn"),
    ("полис ОМС 7755440012345678", "7755440012345678", "oms"),
    ("полис омс 7755 4400 1234 5679", "1234 5679", "oms"),
    ("водительское удостоверение 77 АВ 123457", "123457", "driver_licence"),
    ("ВУ 99 12 345678", "345678", "driver_licence"),
    ("права: водительские права 50 05 987654", "987654", "driver_licence"),
]


@pytest.mark.parametrize(("text", "secret", "kind"), CORPUS, ids=[c[0] for c in CORPUS])
def test_document_numbers_are_masked(text: str, secret: str, kind: str) -> None:
    masked = redact_with_counts(f"Добрый день. {text}. Не могу войти.")
    assert secret not in masked.text
    assert masked.counts.get(kind) == 1, masked
    assert "Не могу войти" in masked.text


@pytest.mark.parametrize(
    "text",
    ["версия 4.2.1 от 12.11.2026", "заявка 201536102", "ошибка 500 после обновления", "в 10:30"],
)
def test_ordinary_numbers_survive(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("display", "greet"),
    [
        ("Иван Петров", "Иван"),
        ("ОЛЬГА", "Ольга"),
        ("Анна-Мария Смирнова", "Анна-Мария"),
        ("ivan.petrov@mail.ru", None),
        ("+7 (912) 345-67-89", None),
        ("89123456789", None),
        ("Служба поддержки", None),
        ("ООО Ромашка", None),
        ("info", None),
        ("<script>", None),
        ("И", None),
        ("", None),
        (None, None),
    ],
)
def test_greeting_name(display: str | None, greet: str | None) -> None:
    assert greeting_name(display) == greet


def test_mask_person_removes_the_senders_own_identifiers() -> None:
    text = "Не работает вход. С уважением, Иван Петров\nivan.petrov@mail.ru, +7 912 345-67-89"
    masked = mask_person(text, name="Иван Петров", identifiers=("ivan.petrov@mail.ru",))
    assert masked == "Не работает вход. С уважением, [name]\n[contact], [phone]"
    assert mask_person("Иван пишет: вход не работает", name="Иван Петров") == (
        "[name] пишет: вход не работает"
    )
    odd = mask_person("пишите на ivan at mail", name="ivan at mail")
    assert "ivan" not in odd


def test_nothing_personal_reaches_the_llm_or_the_comment(
    sandbox: Sandbox, start_bot: Any, fake_llm: Any
) -> None:
    llm = LLMClient(base_url=fake_llm.base_url, model="fake", timeout_seconds=5, max_retries=0)
    bot: Bot = start_bot(llm=llm, pyrus_draft_field_id=14)
    lines = "\n".join(text for text, _secret, _kind in CORPUS)
    task_id = new_task(
        sandbox,
        text=f"Не приходит письмо для сброса пароля.\n{lines}\n"
        "С уважением, Иван Петров\nтел. 8 (912) 345-67-89, ivan.petrov@mail.ru",
    )
    task = sandbox.pyrus.dataset.tasks[task_id]
    task["fields"][0]["value"] = "Паспорт 4510 123456 не принимается"
    task["comments"][0]["channel"] = {
        "type": "email",
        "from": {"name": "ivan.petrov@mail.ru", "email": "ivan.petrov@mail.ru"},
    }
    sandbox.send_webhook(bot.url, task_id)
    assert wait_finished(bot.database_url, task_id)[0][0] == "done"
    [request] = fake_llm.requests
    prompt = "\n".join(str(m["content"]) for m in request["body"]["messages"])
    [comment] = bot_comments(sandbox, task_id)
    posted = "\n".join([comment["text"], comment["formatted_text"], str(comment["field_updates"])])
    row = suggestion_row(bot.database_url, task_id)
    logged = "\n".join(str(row[key]) for key in ("recommendation", "draft_reply", "retrieval"))
    secrets = [secret for _text, secret, _kind in CORPUS]
    secrets += ["ivan.petrov", "Петров", "345-67-89", "Иван"]
    for where, text in (("prompt", prompt), ("comment", posted), ("log", logged)):
        leaked = [secret for secret in secrets if secret in text]
        assert leaked == [], f"{where} leaks {leaked}"
    assert "[passport]" in prompt
    assert "Здравствуйте!" in posted  # no name to greet: an e-mail is not a name
