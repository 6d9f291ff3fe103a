"""The optional SQL source: query files, read-only keyset paging, landing in raw.sql_rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from assistant.db import connect
from assistant.sources.http import SourceError
from assistant.sources.sql import load_queries
from assistant.sources.sync.sql import SqlSync, SqlSyncOptions
from tests.conftest import make_database

pytestmark = pytest.mark.db

QUERY = """-- key: ticket_id
-- watermark: updated_at
select ticket_id, updated_at, subject, amount from helpdesk.tickets;
"""


@pytest.fixture
def source_url(pg_server: str) -> str:
    url = make_database(pg_server, "t_sql_source_db")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create schema helpdesk")
        conn.execute("create sequence helpdesk.counter")
        conn.execute(
            "create table helpdesk.tickets (ticket_id int primary key, "
            "updated_at timestamptz not null, subject text, amount numeric(10, 2))"
        )
        conn.execute(
            "insert into helpdesk.tickets select i, '2026-11-20T10:00:00Z'::timestamptz "
            "+ (i % 3) * interval '1 hour', 'Тикет ' || i, i * 1.5 from generate_series(1, 7) i"
        )
    return url


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with connect(database_url, autocommit=True) as connection:
        connection.execute("truncate raw.sql_rows, raw.sql_row_versions, raw.sync_state")
        yield connection


def sync(conn: psycopg.Connection, url: str, query_dir: Path, **kwargs: object) -> dict:
    options = SqlSyncOptions(source_url=url, query_dir=query_dir, batch_size=3, **kwargs)  # type: ignore[arg-type]
    return SqlSync(conn, options).run()


def test_rows_land_then_only_changes_count(
    source_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    (tmp_path / "tickets.sql").write_text(QUERY, encoding="utf-8")
    first = sync(conn, source_url, tmp_path)
    assert (first["new"], first["fetched"]) == (7, 7)
    payload = conn.execute(
        "select payload from raw.sql_rows where source_name = 'tickets' and row_key = '4'"
    ).fetchone()[0]
    assert payload == {
        "ticket_id": 4, "updated_at": "2026-11-20T11:00:00+00:00",
        "subject": "Тикет 4", "amount": "6.00",
    }  # fmt: skip

    again = sync(conn, source_url, tmp_path)
    assert (again["new"], again["changed"]) == (0, 0)
    assert again["fetched"] < 7  # only rows at or after the watermark are read again

    with psycopg.connect(source_url, autocommit=True) as src:
        src.execute(
            "update helpdesk.tickets set subject = 'Исправлено', "
            "updated_at = '2026-11-21T00:00:00Z' where ticket_id = 2"
        )
    third = sync(conn, source_url, tmp_path)
    assert (third["new"], third["changed"]) == (0, 1)
    assert conn.execute(
        "select count(*) from raw.sql_row_versions where row_key = '2'"
    ).fetchone() == (2,)


def test_queries_run_read_only(source_url: str, conn: psycopg.Connection, tmp_path: Path) -> None:
    (tmp_path / "evil.sql").write_text(
        "-- key: ticket_id\n-- watermark: updated_at\n"
        "select ticket_id, updated_at, nextval('helpdesk.counter') as n from helpdesk.tickets",
        encoding="utf-8",
    )
    with pytest.raises(SourceError, match="read-only"):
        sync(conn, source_url, tmp_path)
    with psycopg.connect(source_url) as src:
        assert src.execute("select last_value, is_called from helpdesk.counter").fetchone() == (
            1,
            False,
        )


def test_query_files_need_their_headers(tmp_path: Path) -> None:
    (tmp_path / "bad.sql").write_text("-- key: id\nselect 1 as id", encoding="utf-8")
    with pytest.raises(SourceError, match="-- watermark: <column>"):
        load_queries(tmp_path)
    with pytest.raises(SourceError, match="not a directory"):
        load_queries(tmp_path / "missing")
