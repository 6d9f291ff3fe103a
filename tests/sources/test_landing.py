"""assistant.sources.landing against the embedded Postgres: upserts, versions, tombstones, state."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from assistant.db import connect
from assistant.sources import landing

pytestmark = pytest.mark.db


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with connect(database_url, autocommit=True) as connection:
        connection.execute(
            "truncate raw.pyrus_tasks, raw.pyrus_task_versions, raw.confluence_pages, "
            "raw.confluence_page_versions, raw.sql_rows, raw.sql_row_versions, raw.sync_state, "
            "raw.extract_runs, raw.extract_errors, raw.pyrus_forms"
        )
        yield connection


def task(task_id: int, text: str) -> landing.LandingRow:
    payload = {"id": task_id, "text": text, "last_modified_date": "2026-11-20T10:00:00Z"}
    return landing.LandingRow((task_id,), {"form_id": 321456, "last_modified_at": None}, payload)


def load(conn: psycopg.Connection, rows: list[landing.LandingRow]) -> landing.LoadCounts:
    with conn.transaction():
        return landing.upsert(conn, landing.PYRUS_TASKS, rows, uuid.uuid4())


def versions(conn: psycopg.Connection, task_id: int) -> list[tuple[str, bool]]:
    rows = conn.execute(
        "select payload ->> 'text', valid_to is null from raw.pyrus_task_versions "
        "where task_id = %s order by valid_from",
        [task_id],
    ).fetchall()
    return [(row[0], row[1]) for row in rows]


def test_new_unchanged_changed_keep_one_open_version(conn: psycopg.Connection) -> None:
    first = load(conn, [task(1, "а"), task(2, "б")])
    assert (first.new, first.changed, first.unchanged) == (2, 0, 0)
    loaded_at = conn.execute("select _loaded_at from raw.pyrus_tasks where task_id = 1").fetchone()

    again = load(conn, [task(1, "а"), task(2, "б")])
    assert (again.new, again.changed, again.unchanged) == (0, 0, 2)
    # an unchanged payload is not rewritten
    assert (
        conn.execute("select _loaded_at from raw.pyrus_tasks where task_id = 1").fetchone()
        == loaded_at
    )

    changed = load(conn, [task(1, "а, исправлено"), task(2, "б")])
    assert (changed.new, changed.changed, changed.unchanged) == (0, 1, 1)
    assert versions(conn, 1) == [("а", False), ("а, исправлено", True)]
    assert versions(conn, 2) == [("б", True)]
    latest = conn.execute("select payload ->> 'text' from raw.pyrus_tasks where task_id = 1")
    assert latest.fetchone() == ("а, исправлено",)


def test_key_order_and_whitespace_are_not_changes() -> None:
    assert landing.payload_hash({"a": 1, "b": [1, 2]}) == landing.payload_hash(
        {"b": [1, 2], "a": 1}
    )
    assert landing.payload_hash({"a": 1}) != landing.payload_hash({"a": 2})


def test_duplicate_keys_in_one_batch_keep_the_last(conn: psycopg.Connection) -> None:
    counts = load(conn, [task(7, "старое"), task(7, "новое")])
    assert counts.new == 1
    assert versions(conn, 7) == [("новое", True)]


def test_tombstone_closes_the_version_and_a_return_reopens(conn: psycopg.Connection) -> None:
    rows = [
        landing.LandingRow(
            (page_id,), {"space_key": "SUP", "title": page_id, "version_number": 1}, {"id": page_id}
        )
        for page_id in ("10", "11")
    ]
    batch = uuid.uuid4()
    with conn.transaction():
        landing.upsert(conn, landing.CONFLUENCE_PAGES, rows, batch)
        assert landing.tombstone(conn, landing.CONFLUENCE_PAGES, [("10",)], batch) == 1
        # tombstoning twice is a no-op
        assert landing.tombstone(conn, landing.CONFLUENCE_PAGES, [("10",)], batch) == 0
    state = conn.execute(
        "select page_id, is_deleted, deleted_at is not null from raw.confluence_pages order by 1"
    ).fetchall()
    assert state == [("10", True, True), ("11", False, False)]
    open_versions = conn.execute(
        "select page_id from raw.confluence_page_versions where valid_to is null order by 1"
    ).fetchall()
    assert open_versions == [("11",)]
    assert landing.live_confluence_pages(conn, ["SUP"]) == {"11"}

    with conn.transaction():
        back = landing.upsert(conn, landing.CONFLUENCE_PAGES, rows[:1], uuid.uuid4())
    assert back.changed == 1  # restored with the same payload still counts as a change
    assert conn.execute(
        "select is_deleted, deleted_at from raw.confluence_pages where page_id = '10'"
    ).fetchone() == (False, None)


def test_composite_keys_of_the_sql_source(conn: psycopg.Connection) -> None:
    rows = [
        landing.LandingRow(("tickets", "1"), {"watermark_value": "1"}, {"id": 1}),
        landing.LandingRow(("orders", "1"), {"watermark_value": "1"}, {"id": 1, "sum": 5}),
    ]
    with conn.transaction():
        first = landing.upsert(conn, landing.SQL_ROWS, rows, uuid.uuid4())
        second = landing.upsert(conn, landing.SQL_ROWS, rows, uuid.uuid4())
    assert (first.new, second.unchanged) == (2, 2)


def test_stored_task_stamps_skip_deleted_tasks(conn: psycopg.Connection) -> None:
    load(conn, [task(1, "а"), task(2, "б")])
    with conn.transaction():
        landing.tombstone(conn, landing.PYRUS_TASKS, [(2,)], uuid.uuid4())
    assert landing.stored_task_stamps(conn, [1, 2, 3]) == {1: "2026-11-20T10:00:00Z"}


def test_sync_state_runs_and_errors(conn: psycopg.Connection) -> None:
    assert landing.get_sync_state(conn, "pyrus", "form:1") == (None, {})
    with conn.transaction():
        landing.set_sync_state(conn, "pyrus", "form:1", None, {"k": 1})
    assert landing.get_sync_state(conn, "pyrus", "form:1") == (None, {"k": 1})

    batch = landing.start_run(conn, "pyrus")
    landing.record_error(conn, batch, "pyrus", "42", "HTTP 404")
    landing.finish_run(conn, batch, status="succeeded", stats={"new": 3})
    run = conn.execute(
        "select status, stats, finished_at is not null from raw.extract_runs where batch_id = %s",
        [batch],
    ).fetchone()
    assert run == ("succeeded", {"new": 3}, True)
    assert conn.execute("select object_id, error from raw.extract_errors").fetchall() == [
        ("42", "HTTP 404")
    ]


def test_forms_are_rewritten_only_when_changed(conn: psycopg.Connection) -> None:
    form = {"id": 321456, "name": "Обращения"}
    with conn.transaction():
        assert landing.upsert_forms(conn, [form], uuid.uuid4()) == 1
        assert landing.upsert_forms(conn, [form], uuid.uuid4()) == 0
        assert landing.upsert_forms(conn, [{**form, "name": "Другое"}], uuid.uuid4()) == 1
