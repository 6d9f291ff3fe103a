"""kb.answer_labels on a real Postgres: links + overlap, idempotent reruns, watermark."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from assistant.knowledge.learning.answer_labels import label_resolved
from assistant.knowledge.learning.answer_overlap import OverlapIndex, Section

SECTIONS = [
    (
        "confluence:1#a",
        "confluence:1",
        "Лимит файла\nМаксимальный размер вложения 250 МБ, "
        "ошибка too_large_request_length. Сожмите видео или загрузите в облако и дайте ссылку.",
    ),
    (
        "confluence:1#b",
        "confluence:1",
        "Черновики\nНезаконченная заявка сохраняется как черновик, откройте форму ещё раз.",
    ),
    (
        "confluence:2#a",
        "confluence:2",
        "Сброс пароля\nПисьмо для сброса пароля не приходит: "
        "проверьте папку спам и журнал рассылок, статус bounced значит неверный адрес.",
    ),
    (
        "confluence:3#a",
        "confluence:3",
        "Права на форму\nСотрудник не видит форму: откройте "
        "настройки формы, раздел доступ, добавьте роль сотрудника.",
    ),
]
FILE_REPLY = (
    "Здравствуйте, Роман! Максимальный размер вложения — 250 МБ, отсюда ошибка "
    "too_large_request_length. Сожмите видео или загрузите его в облако и пришлите ссылку."
)

DDL = """
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists marts;
create table staging.stg_confluence__pages (
    page_id bigint, space_key text, title text, is_deleted boolean);
create table marts.fct_tickets (ticket_id bigint primary key);
create table intermediate.int_ticket_dialogues (
    ticket_id bigint, closed_at timestamptz, answer_text text, is_deleted boolean);
create table intermediate.int_ticket_events_classified (
    ticket_id bigint, event_sequence integer, actor_class text, body_text text);
"""


@pytest.fixture(scope="module")
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(DDL)
        connection.execute(
            "insert into staging.stg_confluence__pages values (1, 'SUP', 'Лимиты файлов', false),"
            " (2, 'SUP', 'Сброс пароля', false), (3, 'SUP', 'Права на форму', false)"
        )
        connection.execute("insert into marts.fct_tickets values (100), (101), (102), (103)")
        for chunk_id, document_id, text in SECTIONS:
            connection.execute(
                "insert into kb.chunks (chunk_id, document_id, ordinal, source, title, text,"
                " content_hash, meta_hash) values (%s, %s, 0, 'confluence', 't', %s, 'h', 'm')",
                (chunk_id, document_id, text),
            )
        _resolve(connection, 100, "2026-11-01", FILE_REPLY, ["Смотрел https://pyrus.com/t#id101"])
        _resolve(
            connection,
            101,
            "2026-11-02",
            "Закрываю, пишите.",
            ["Статья: https://wiki.example.ru/display/SUP/Сброс+пароля"],
        )
        _resolve(
            connection,
            102,
            "2026-11-03",
            "Добрый день! Спасибо, что написали. "
            "Хорошего дня и удачной недели, всего доброго, до свидания.",
            [],
        )
        yield connection


def _resolve(
    conn: psycopg.Connection, ticket: int, closed: str, answer: str, notes: list[str]
) -> None:
    conn.execute(
        "insert into intermediate.int_ticket_dialogues values (%s, %s, %s, false)",
        (ticket, closed, answer),
    )
    for seq, text in enumerate([answer, *notes], start=1):
        conn.execute(
            "insert into intermediate.int_ticket_events_classified values (%s, %s, 'staff', %s)",
            (ticket, seq, text),
        )


def _labels(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "select ticket_id, document_id, method, labelled_at from kb.answer_labels order by 1, 2, 3"
    ).fetchall()


def test_overlap_picks_the_section_the_reply_follows() -> None:
    index = OverlapIndex([Section(*row) for row in SECTIONS])
    match = index.match(FILE_REPLY)
    assert match is not None
    assert (match.document_id, match.chunk_id) == ("confluence:1", "confluence:1#a")
    assert match.clears(0.03)
    assert index.match("Спасибо, закрываю.") is None  # too little knowledge to judge


def test_labels_links_and_overlap_then_rerun_changes_nothing(conn: psycopg.Connection) -> None:
    summary = label_resolved(conn)
    rows = _labels(conn)
    assert [row[:3] for row in rows] == [
        (100, "confluence:1", "overlap"),
        (100, "pyrus:101", "ticket_link"),
        (101, "confluence:2", "confluence_link"),
    ]
    assert summary["tickets_examined"] == 3
    assert summary["tickets_labelled"] == 2
    again = label_resolved(conn)
    assert again["tickets_examined"] == 0  # nothing resolved since the watermark
    assert _labels(conn) == rows
    full = label_resolved(conn, full=True)
    assert full["tickets_examined"] == 3
    assert full["labels_changed"] == 0
    assert _labels(conn) == rows  # labelled_at kept: nothing changed


def test_new_resolution_is_labelled_and_stale_labels_removed(conn: psycopg.Connection) -> None:
    _resolve(
        conn,
        103,
        "2026-11-05",
        "Откройте настройки формы, раздел доступ, добавьте "
        "роль сотрудника — тогда сотрудник увидит форму.",
        [],
    )
    summary = label_resolved(conn)
    assert summary["tickets_examined"] == 1
    assert ("confluence:3", "overlap") in {(r[1], r[2]) for r in _labels(conn) if r[0] == 103}
    conn.execute(
        "update intermediate.int_ticket_events_classified set body_text = 'без ссылок'"
        " where ticket_id = 101"
    )
    label_resolved(conn, full=True)
    assert not [r for r in _labels(conn) if r[0] == 101]
