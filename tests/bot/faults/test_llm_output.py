"""Issue #25 item 5: an LLM reply with a phishing link, a request for the card number and
a passport/phone is never posted; the bot posts the retrieval-only comment instead and
logs why.

End to end: the webhook, the inbox worker, the fake OpenAI-compatible LLM (real `openai`
client) and the Pyrus emulator, all on 127.0.0.1.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from assistant.llm.client import LLMClient
from sample_data.emulators.sandbox import Sandbox
from tests.bot.test_pipeline import Bot, bot_comments, new_task, suggestion_row, wait_finished

pytestmark = pytest.mark.db

HOSTILE_DRAFT = (
    "Здравствуйте! Чтобы восстановить доступ, перейдите по ссылке "
    "https://pyrus-secure-login.example.net/reset и сообщите номер карты, с которой "
    "оплачивали лицензию. Мы сверили ваш паспорт 4510 123456 и перезвоним на "
    "+7 916 123-45-67."
)
SECRETS = ("pyrus-secure-login", "номер карты", "4510 123456", "123-45-67")


def test_an_unsafe_llm_reply_is_replaced_before_posting(
    sandbox: Sandbox, start_bot: Any, fake_llm: Any
) -> None:
    fake_llm.script(
        json.dumps(
            {
                "recommendation_steps": ["Проверьте журнал рассылок."],
                "cited_source_ids": ["S1"],
                "draft_reply": HOSTILE_DRAFT,
                "confidence": 0.9,
            },
            ensure_ascii=False,
        )
    )
    llm = LLMClient(base_url=fake_llm.base_url, model="fake", timeout_seconds=5, max_retries=0)
    bot: Bot = start_bot(llm=llm, pyrus_draft_field_id=14)
    task_id = new_task(sandbox, text="Не приходит письмо для сброса пароля, спам проверила.")
    sandbox.send_webhook(bot.url, task_id)
    assert wait_finished(bot.database_url, task_id)[0][0] == "done"
    assert len(fake_llm.requests) == 1
    [comment] = bot_comments(sandbox, task_id)
    posted = "\n".join([comment["text"], comment["formatted_text"], str(comment["field_updates"])])
    assert [secret for secret in SECRETS if secret in posted] == []
    assert "не прошёл проверку безопасности" in posted  # the comment says why
    row = suggestion_row(bot.database_url, task_id)
    assert row["mode"] == "retrieval_only"
    assert str(row["llm_error"]).startswith("unsafe: a link not among the sources")
    logged = "\n".join(str(row[key]) for key in ("recommendation", "draft_reply"))
    assert [secret for secret in SECRETS if secret in logged] == []
