"""The score step: calibration on holdout drafts, usage classes, citations, storage."""

from __future__ import annotations

import psycopg
import pytest

from assistant.effect.data import (
    CitedChunk,
    EffectDataMissing,
    ReplyPair,
    load_reply_pairs,
    upsert_outcomes,
)
from assistant.effect.scoring import score_pairs, source_used
from flows.score import score_suggestions

DRAFT = (
    "Здравствуйте, Анна!\nЧтобы поле стало обязательным, откройте настройки формы, "
    "выберите поле «Сумма» и включите «Обязательное на этапе согласования».\n"
    "С уважением, служба поддержки"
)
UNRELATED = [
    "Перезагрузите мобильное приложение и войдите заново.",
    "Пришлите, пожалуйста, скриншот ошибки и время, когда она появилась.",
    "Лицензии продлеваются в разделе оплаты, счёт придёт на почту администратора.",
    "Проверьте настройки SMTP на сервере и логи сервиса отправки писем.",
]


def pair(ticket_id: int, arm: str, reply: str | None, **changes: object) -> ReplyPair:
    values: dict[str, object] = {
        "ticket_id": ticket_id,
        "arm": arm,
        "draft_source": "posted_comment" if arm == "treatment" else "suggestion_log",
        "draft_text": DRAFT,
        "reply_comment_id": 1000 + ticket_id if reply else None,
        "reply_text": reply,
        "replied": reply is not None,
        "exposed": arm == "treatment",
        "staff_text": reply,
        "feedback": None,
        "cited_chunk_ids": [],
    }
    values.update(changes)
    return ReplyPair(**values)  # type: ignore[arg-type]


def holdout_pairs(n: int = 12) -> list[ReplyPair]:
    return [pair(100 + i, "holdout", UNRELATED[i % len(UNRELATED)]) for i in range(n)]


def test_treatment_classes_and_holdout_shadow() -> None:
    edited = DRAFT.replace("С уважением", "Если не выйдет, пришлите скриншот.\nС уважением")
    pairs = [
        *holdout_pairs(),
        pair(1, "treatment", DRAFT.replace("Здравствуйте, Анна!", "Добрый день!")),
        pair(2, "treatment", "Добрый день! " + edited),
        pair(3, "treatment", UNRELATED[0]),
        pair(4, "treatment", None),
        pair(5, "treatment", DRAFT, exposed=False),
    ]
    thresholds, rows = score_pairs(pairs, {})
    assert thresholds.holdout_pairs == 12
    by_id = {row["task_id"]: row for row in rows}
    assert [by_id[i]["usage_class"] for i in range(1, 6)] == [
        "accepted",
        "edited",
        "ignored",
        "no_reply_yet",
        "not_exposed",
    ]
    holdout = [row for row in rows if row["arm"] == "holdout"]
    assert {row["usage_class"] for row in holdout} == {"shadow"}
    assert {row["chance_class"] for row in holdout} == {"ignored"}
    assert all(row["sim_char"] is not None for row in holdout)


def test_few_holdout_pairs_keep_the_base_thresholds() -> None:
    thresholds, _ = score_pairs(holdout_pairs(3), {})
    assert (thresholds.accepted_sim_char, thresholds.edited_retention) == (0.9, 0.4)


def test_cited_source_counts_as_used_when_named_or_drawn_from() -> None:
    chunk = CitedChunk(
        "p1:0",
        "Обязательные поля формы",
        "https://wiki.example.ru/pages/1",
        "Откройте настройки формы, выберите поле и включите обязательное на этапе согласования.",
    )
    reply = "Откройте настройки формы, выберите поле и включите обязательное на этапе."
    assert source_used(chunk, "см. https://wiki.example.ru/pages/1", "спасибо")
    assert source_used(chunk, "статья «Обязательные поля формы»", "спасибо")
    assert source_used(chunk, reply, reply)
    assert not source_used(chunk, UNRELATED[0], UNRELATED[0])
    _, rows = score_pairs(
        [pair(7, "treatment", reply, cited_chunk_ids=["p1:0", "p1:0", "missing:0"])],
        {"p1:0": chunk},
    )
    assert (rows[0]["cited_sources"], rows[0]["cited_sources_used"]) == (2, 1)


def test_citations_unknown_without_an_index() -> None:
    _, rows = score_pairs([pair(8, "treatment", DRAFT, cited_chunk_ids=["x:0"])], {})
    assert rows[0]["cited_sources_used"] is None


@pytest.mark.db
def test_outcomes_upsert_is_idempotent(database_url: str) -> None:
    _, rows = score_pairs([*holdout_pairs(), pair(1, "treatment", DRAFT)], {})
    with psycopg.connect(database_url) as conn:
        assert upsert_outcomes(conn, rows) == 13
        rows[-1]["usage_class"] = "ignored"
        upsert_outcomes(conn, rows)
        stored = conn.execute(
            "select count(*), max(usage_class) filter (where task_id = 1)"
            " from assistant.suggestion_outcomes"
        ).fetchone()
    assert stored == (13, "ignored")


@pytest.mark.db
def test_missing_marts_give_a_clear_error(database_url: str) -> None:
    with psycopg.connect(database_url) as conn, pytest.raises(EffectDataMissing, match="marts"):
        load_reply_pairs(conn)
    with pytest.raises(EffectDataMissing):
        score_suggestions(database_url)
