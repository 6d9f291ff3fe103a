"""Versioned plain-SQL migrations, applied idempotently and recorded in a table.

Files live in `assistant/migrations/NNNN_name.sql`; each runs once, in its own
transaction, in version order. An advisory lock makes concurrent migrators wait for
each other instead of racing. An applied file whose text later changed is an error:
write a new migration instead of editing an old one.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import psycopg

from assistant.db import connect, ensure_vector_extension
from assistant.errors import DatabaseError

logger = logging.getLogger(__name__)

MIGRATION_LOCK_KEY = 7_301_120_001


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """All migration files in version order."""
    root = directory or Path(__file__).with_name("migrations")
    migrations = []
    for path in sorted(root.glob("[0-9][0-9][0-9][0-9]_*.sql")):
        version, _, name = path.stem.partition("_")
        migrations.append(Migration(version=version, name=name, sql=path.read_text("utf-8")))
    return migrations


def migrate(url: str, directory: Path | None = None) -> list[str]:
    """Apply pending migrations; returns the versions applied by this call."""
    ensure_vector_extension(url)
    applied_now: list[str] = []
    with connect(url, autocommit=True) as conn:
        conn.execute(
            """
            create table if not exists public.kb_schema_migrations (
                version text primary key,
                name text not null,
                checksum text not null,
                applied_at timestamptz not null default now()
            )
            """
        )
        conn.execute("select pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            done = {
                row[0]: row[1]
                for row in conn.execute("select version, checksum from public.kb_schema_migrations")
            }
            for migration in load_migrations(directory):
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise DatabaseError(
                            f"migration {migration.version}_{migration.name}.sql changed after it "
                            "was applied; add a new migration file instead of editing it"
                        )
                    continue
                try:
                    with conn.transaction():
                        conn.execute(migration.sql)  # type: ignore[arg-type]
                        conn.execute(
                            "insert into public.kb_schema_migrations (version, name, checksum) "
                            "values (%s, %s, %s)",
                            (migration.version, migration.name, migration.checksum),
                        )
                except psycopg.Error as exc:
                    raise DatabaseError(
                        f"migration {migration.version}_{migration.name}.sql failed: {exc}"
                    ) from exc
                logger.info("applied migration %s_%s", migration.version, migration.name)
                applied_now.append(migration.version)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return applied_now
