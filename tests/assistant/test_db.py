"""The embedded server, DATABASE_URL handling and migrations."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import psycopg
import pytest

from assistant.db import (
    connect,
    embedded_status,
    ensure_vector_extension,
    libpq_environment,
    start_embedded,
    stop_embedded,
)
from assistant.errors import DatabaseError, DataDirLocked
from assistant.migrate import Migration, load_migrations, migrate
from tests.conftest import make_database

pytestmark = pytest.mark.db


def test_migrations_create_python_owned_schemas(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        schemas = {row[0] for row in conn.execute("select nspname from pg_namespace")}
        versions = [row[0] for row in conn.execute("select version from kb_schema_migrations")]
    assert {"raw", "kb", "assistant"} <= schemas
    assert versions == [m.version for m in load_migrations()]


def test_migrate_is_idempotent(database_url: str) -> None:
    assert migrate(database_url) == []


def test_edited_migration_is_refused(database_url: str, tmp_path: Path) -> None:
    first = load_migrations()[0]
    (tmp_path / f"{first.version}_{first.name}.sql").write_text(first.sql + "\n-- edited\n")
    with pytest.raises(DatabaseError, match="changed after it was applied"):
        migrate(database_url, directory=tmp_path)


def test_failed_migration_rolls_back_and_names_the_file(pg_server: str, tmp_path: Path) -> None:
    empty_database_url = make_database(pg_server, "t_broken_migration")
    (tmp_path / "0001_ok.sql").write_text("create table public.mig_ok (id int);")
    (tmp_path / "0002_broken.sql").write_text(
        "create table public.mig_half (id int); select * from no_such_table;"
    )
    with pytest.raises(DatabaseError, match=r"0002_broken\.sql failed"):
        migrate(empty_database_url, directory=tmp_path)
    with psycopg.connect(empty_database_url) as conn:
        tables = {
            r[0] for r in conn.execute("select tablename from pg_tables where schemaname='public'")
        }
    assert "mig_ok" in tables
    assert "mig_half" not in tables


def test_vector_extension_version(database_url: str) -> None:
    assert ensure_vector_extension(database_url).startswith("0.8")


def test_unreachable_database_url_gives_one_line_error() -> None:
    url = "postgresql://kb:secret-pw@127.0.0.1:1/kb"
    with pytest.raises(DatabaseError) as info:
        connect(url)
    message = str(info.value)
    assert "DATABASE_URL" in message
    assert "secret-pw" not in message
    assert "\n" not in message


def test_libpq_environment_from_socket_url() -> None:
    env = libpq_environment("postgresql://postgres:@/kbdb?host=/tmp/sock")
    assert env["PGHOST"] == "/tmp/sock"
    assert env["PGDATABASE"] == "kbdb"


def test_migration_checksum_is_stable() -> None:
    assert (
        Migration("0001", "x", "select 1").checksum == Migration("0001", "x", "select 1").checksum
    )


def _start_in_child(data_dir: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    try:
        queue.put(start_embedded(Path(data_dir)))
    except Exception as exc:  # pragma: no cover - reported to the parent
        queue.put(f"error: {exc}")


@pytest.mark.slow
def test_two_processes_start_the_same_data_dir_safely(tmp_path: Path) -> None:
    data_dir = tmp_path / "pg"
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    children = [ctx.Process(target=_start_in_child, args=(str(data_dir), queue)) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    urls = [queue.get(timeout=5) for _ in children]
    try:
        assert all(not u.startswith("error") for u in urls), urls
        assert urls[0] == urls[1]
        status = embedded_status(data_dir)
        assert status.running
        with connect(urls[0]) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    finally:
        assert stop_embedded(data_dir)
    assert not embedded_status(data_dir).running


def test_locked_data_dir_is_reported(tmp_path: Path) -> None:
    import fcntl

    from assistant import db

    data_dir = tmp_path / "pg"
    with (tmp_path / "pg.lock").open("a+") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with (
            pytest.raises(DataDirLocked, match="locked by another process"),
            db._data_dir_lock(data_dir, timeout=0.3),
        ):
            pass


def test_server_without_usable_pgvector_gives_a_clear_error(pg_server: str) -> None:
    """A role that may not create the extension sees what to do, not a traceback."""
    url = make_database(pg_server, "t_no_vector")
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute("drop role if exists kb_limited")
        conn.execute("create role kb_limited login")
    limited = url.replace("postgresql://postgres:@", "postgresql://kb_limited@")
    with pytest.raises(DatabaseError, match="pgvector") as info:
        ensure_vector_extension(limited)
    assert "\n" not in str(info.value)
