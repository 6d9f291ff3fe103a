"""`kb eval answers`: metrics, input errors and one end-to-end run on a tiny corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assistant.bot.answer_eval import (
    AnswerEvalError,
    chrf,
    draft_miss,
    load_cases,
)
from assistant.bot.models import Suggestion
from assistant.bot.reply_text import CLOSING_LINE, draft_body
from flows.cli import app


def test_chrf_is_100_for_identical_0_for_disjoint_and_orders_partial_matches() -> None:
    reference = "Разбейте справочник на несколько частей по 15 000 элементов."
    assert chrf(reference, reference) == pytest.approx(100.0)
    assert chrf("xyz", "абв") == 0.0
    close = chrf("Разбейте справочник на части по 15 000 строк.", reference)
    far = chrf("Проверьте папку «Спам».", reference)
    assert 0 < far < close < 100


def test_draft_body_drops_greeting_and_closing() -> None:
    draft = f"Здравствуйте, Анна!\n\nОткройте настройки.\n\n{CLOSING_LINE}"
    assert draft_body(draft) == "Откройте настройки."


def _suggestion(
    mode: str, draft_from: str | None, retrieved: list[str], candidates: list[str] | None = None
) -> Suggestion:
    return Suggestion(
        mode=mode,
        steps=[],
        draft_reply="",
        sources=[],
        similar_tickets=[],
        retrieval=[{"document_id": doc} for doc in retrieved],
        draft_source_id=draft_from,
        draft_candidates=list(retrieved if candidates is None else candidates),
    )


def test_a_miss_is_put_on_retrieval_or_on_the_choice() -> None:
    relevant = frozenset({"confluence:1", "pyrus:11"})
    assert draft_miss(_suggestion("retrieval_only", "pyrus:11", ["pyrus:11"]), relevant) is None
    assert draft_miss(_suggestion("no_match", None, ["confluence:1"]), relevant) == "no_match"
    none_found = _suggestion("retrieval_only", "pyrus:99", ["pyrus:99", "confluence:7"])
    assert draft_miss(none_found, relevant) == "no_relevant_retrieved"
    ranked_too_low = _suggestion(
        "retrieval_only", "pyrus:99", ["pyrus:99", "pyrus:98", "confluence:1"], ["pyrus:99"]
    )
    assert draft_miss(ranked_too_low, relevant) == "relevant_not_a_candidate"
    passed_over = _suggestion("retrieval_only", "pyrus:99", ["pyrus:99", "confluence:1"])
    assert draft_miss(passed_over, relevant) == "draft_from_other_doc"


def test_bad_answers_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "answers.jsonl"
    path.write_text('{"id": "q1", "question": "x"}\n', encoding="utf-8")
    with pytest.raises(AnswerEvalError, match=r"answers.jsonl:1: missing reference_answer"):
        load_cases(path)
    path.write_text("not json\n", encoding="utf-8")
    with pytest.raises(AnswerEvalError, match=r":1: not JSON"):
        load_cases(path)


PAGES = [
    (
        "confluence:1",
        "Сброс пароля",
        "Симптомы\nКлиент пишет, что письмо для сброса пароля не приходит.\n"
        "Решение\nПроверьте папку «Спам». Проверьте адрес в профиле и журнал рассылок.\n"
        "Что ответить клиенту\nЗдравствуйте! Письмо могло попасть в «Спам» — проверьте папку. "
        "Если клиент не найдёт письмо, см. «Журнал рассылок».",
    ),
    (
        "confluence:2",
        "Лимиты справочников",
        "Лимиты\nВ справочнике не больше 15 000 элементов.\n"
        "Что делать\nРазбейте справочник на несколько частей или уберите архивные строки.",
    ),
    (
        "confluence:3",
        "Отпуск согласующего",
        "Решение\nНазначьте этап маршрута на роль с заместителями, пока согласующий в отпуске.",
    ),
]
FILLER = [  # unrelated pages, so that document frequencies look like a real knowledge base
    (f"confluence:{100 + i}", title, text)
    for i, (title, text) in enumerate(
        [
            ("Мобильное приложение", "Уведомления на телефоне\nВключите push в настройках."),
            ("Отчёты", "Сводный отчёт\nПостройте отчёт по реестру формы и сохраните его."),
            ("Календарь", "Рабочий календарь\nЗадайте праздники в настройках организации."),
            ("Боты", "Создание бота\nБот подключается к маршруту формы через этап."),
            ("Интеграции", "Токен API\nТокен выдаётся в профиле бота и действует сутки."),
            ("Почтовые правила", "Правила\nПисьма с адреса можно направлять в форму."),
            ("Роли", "Роли\nРоль объединяет сотрудников, её можно назначить на этап."),
            ("Лицензии", "Оплата\nОплатить лицензии можно картой в разделе «Оплата»."),
        ]
    )
]
TICKETS = [
    (
        "pyrus:11",
        "Не загружается справочник",
        "Не загружается справочник на 30 000 строк\n\nРешение:\nЗдравствуйте! В справочнике "
        "не больше 15 000 элементов — разбейте его на несколько частей.",
    ),
    (
        "pyrus:12",
        "Не приходит письмо",
        "Не приходит письмо для сброса пароля\n\nРешение:\nПисьмо отклонил почтовый сервер, "
        "укажите другой адрес в профиле.",
    ),
]


def _write_inputs(tmp_path: Path) -> tuple[Path, Path]:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "\n".join(
            json.dumps({"_id": i, "title": t, "text": x}, ensure_ascii=False)
            for i, t, x in PAGES + FILLER + TICKETS
        ),
        encoding="utf-8",
    )
    data = tmp_path / "answers.jsonl"
    rows = [
        {
            "id": "a1",
            "question": "Справочник не грузится\nЗагружаем справочник на 20 тысяч строк — ошибка",
            "reference_answer": "В справочнике не больше 15 000 элементов — разбейте его на части.",
            "relevant_doc_ids": ["confluence:2", "pyrus:11"],
        },
        {
            "id": "a2",
            "question": "Нет письма\nНе приходит письмо для сброса пароля, спам смотрела",
            "reference_answer": "Письмо могло быть отклонено, укажите другой адрес в профиле.",
            "relevant_doc_ids": ["confluence:1", "pyrus:12"],
        },
    ]
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return corpus, data


def test_cli_reports_ours_and_baseline(tmp_path: Path, kb_env: str) -> None:
    corpus, data = _write_inputs(tmp_path)
    result = CliRunner().invoke(
        app, ["eval", "answers", "--corpus", str(corpus), "--data", str(data), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    sample = report["sample"]
    assert sample["questions"] == 2
    assert sample["source_cited"] == 1.0
    assert sample["ours"]["draft_relevant"] == 1.0
    assert sample["ours"]["drafts_with_leaks"] == 0
    assert sample["ours"]["chrf"] > sample["baseline"]["chrf"]
    assert sample["baseline"]["drafts_with_leaks"] == 1  # the page template's «см.»/клиент
    assert sum(sample["misses"].values()) == 0
    assert sample["candidates_relevant"] == 1.0
    assert sample["modes"] == {"retrieval_only:llm_not_configured": 2}
    assert [row["id"] for row in sample["rows"]] == ["a1", "a2"]
    assert all(row["draft_relevant"] and row["miss"] is None for row in sample["rows"])
    degraded = report["degraded"]
    assert degraded["questions"] == 2
    # every draft not from a relevant document is put down to exactly one cause
    assert sum(degraded["misses"].values()) == round(2 * (1 - degraded["ours"]["draft_relevant"]))

    text = CliRunner().invoke(
        app, ["eval", "answers", "--corpus", str(corpus), "--data", str(data), "--no-degraded"]
    )
    assert text.exit_code == 0, text.output
    assert "draft from relevant doc" in text.output
    assert "[degraded]" not in text.output


def _llm_reply(cited: list[str], draft: str) -> str:
    return json.dumps(
        {
            "recommendation_steps": ["Проверьте лимит справочника."],
            "cited_source_ids": cited,
            "draft_reply": draft,
            "confidence": 0.7,
        },
        ensure_ascii=False,
    )


def test_cli_with_llm_takes_the_cited_source_and_counts_fallbacks(
    tmp_path: Path, kb_env: str, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLM_BASE_URL", fake_llm.base_url)
    monkeypatch.setenv("LLM_MODEL", "fake-model")
    monkeypatch.setenv("LLM_MAX_RETRIES", "0")
    corpus, data = _write_inputs(tmp_path)
    fake_llm.script(
        _llm_reply(["S1"], "Здравствуйте! Разбейте справочник на части по 15 000 элементов."),
        _llm_reply(["S42"], "Здравствуйте! Проверьте спам."),  # cites nothing it was given
    )
    result = CliRunner().invoke(
        app,
        ["eval", "answers", "--corpus", str(corpus), "--data", str(data), "--json", "--llm"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["llm"] == "fake-model"
    sample = report["sample"]
    assert sample["modes"] == {"llm": 1, "retrieval_only:llm_uncited": 1}
    first, second = sample["rows"]
    assert (first["mode"], second["mode"]) == ("llm", "retrieval_only:llm_uncited")
    # the LLM's draft is credited to the first source it cited: S1 of the prompt it got
    titles = {doc_id: title for doc_id, title, _ in PAGES + FILLER + TICKETS}
    prompt = fake_llm.requests[0]["body"]["messages"][1]["content"]
    assert f"[S1] (статья базы знаний) {titles[first['draft_source_id']]}" in prompt or (
        f"[S1] (решённая заявка) {titles[first['draft_source_id']]}" in prompt
    )
    # the fallback drafts from the retrieval-only composition, as the bot would post it
    assert second["draft_source_id"] in {"confluence:1", "pyrus:12"}


def test_cli_llm_without_an_endpoint_is_one_clear_error(
    tmp_path: Path, kb_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLM_BASE_URL", raising=False)
    corpus, data = _write_inputs(tmp_path)
    result = CliRunner().invoke(
        app, ["eval", "answers", "--corpus", str(corpus), "--data", str(data), "--llm"]
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, AnswerEvalError)
    assert "LLM_BASE_URL" in str(result.exception)


def test_cli_missing_file_is_one_line(tmp_path: Path, kb_env: str) -> None:
    result = CliRunner().invoke(
        app,
        ["eval", "answers", "--corpus", str(tmp_path / "no.jsonl"), "--data", str(tmp_path / "x")],
    )
    assert result.exit_code != 0
    # `kb`'s entry point prints a KbError as one line; the runner hands back the error
    assert isinstance(result.exception, AnswerEvalError)
    assert "x does not exist" in str(result.exception)


INVOICE_TICKETS = [
    (
        f"pyrus:{20 + i}",
        "Акт сверки",
        f"Нужен акт сверки взаиморасчётов{suffix}\n\nРешение:\nЗдравствуйте!\nАкт сверки "
        "взаиморасчётов готовит бухгалтерия: напишите на support@help.example.ru, укажите ИНН "
        "организации — пришлём акт сверки в течение дня.",
    )
    for i, suffix in enumerate(["", " за год", " за квартал"])
]


def test_public_contacts_stay_in_drafts_and_are_counted(
    tmp_path: Path, kb_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The support address in three staff replies is the organisation's: the draft keeps
    it. Without the public-contacts rule the same draft says «напишите на [email]»."""
    from assistant.bot import answer_eval
    from assistant.bot.output_guard import OutputGuard

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "\n".join(
            json.dumps({"_id": i, "title": t, "text": x}, ensure_ascii=False)
            for i, t, x in PAGES + FILLER + TICKETS + INVOICE_TICKETS
        ),
        encoding="utf-8",
    )
    data = tmp_path / "answers.jsonl"
    row = {
        "id": "inv",
        "question": "Акт сверки\nКак получить акт сверки взаиморасчётов за прошлый год?",
        "reference_answer": "Напишите на support@help.example.ru, укажите ИНН — пришлём акт.",
        "relevant_doc_ids": ["pyrus:20", "pyrus:21", "pyrus:22"],
    }
    data.write_text(json.dumps(row, ensure_ascii=False), encoding="utf-8")
    args = ["eval", "answers", "--corpus", str(corpus), "--data", str(data), "--json"]

    result = CliRunner().invoke(app, [*args, "--no-degraded"])
    assert result.exit_code == 0, result.output
    held = json.loads(result.output)["sample"]["placeholders"]
    assert held == {
        "drafts_with_placeholders": 0,
        "references_with_public_contact": 1,
        "where_reference_has_public_contact": 0,
        "drafts_with_a_private_contact": 0,
    }

    # The bot without the rule (the evaluation still knows which contact is public).
    monkeypatch.setattr(answer_eval, "OutputGuard", lambda _public, links: OutputGuard(None, links))
    before = CliRunner().invoke(app, [*args, "--no-degraded"])
    assert before.exit_code == 0, before.output
    held = json.loads(before.output)["sample"]["placeholders"]
    assert held["where_reference_has_public_contact"] == 1  # «напишите на [email]»


def test_corpus_public_contacts_follow_the_rule() -> None:
    from assistant.bot.answer_eval import corpus_public_contacts
    from assistant.knowledge.index.chunking import KbDocument

    docs = [
        KbDocument(document_id=i, source="pyrus", title=t, url="", body=x)
        for i, t, x in INVOICE_TICKETS + TICKETS
    ]
    public = corpus_public_contacts(docs, ["8 800 555-35-35"])
    assert public.emails == {"support@help.example.ru"}
    assert public.phones == {"8005553535"}
    assert not corpus_public_contacts(docs[:2]).emails  # two sources are not enough
