"""Writes to the `raw` landing zone: upserts with versions, tombstones, watermarks, runs.

Every source lands the same way. A row's identity is its key; `payload_hash` (sha256 of
the canonical JSON) decides whether anything changed. An unchanged payload is not
rewritten. A changed one closes the open version (`valid_to`) and opens a new one, so
`*_versions` holds the history and the main table the latest payload. The caller owns
the transaction: one `conn.transaction()` per batch, so a crash keeps committed batches
and a rerun skips them (same hash). Watermarks go in with, or after, the last batch.
Not a flow module: no Prefect here, only parameterized SQL.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Landing:
    """Where one kind of record lands; names are constants, never user input."""

    table: str
    versions: str
    keys: tuple[str, ...]
    key_types: tuple[str, ...]
    columns: tuple[str, ...]
    has_deleted_at: bool


PYRUS_TASKS = Landing(
    "pyrus_tasks", "pyrus_task_versions", ("task_id",), ("bigint",),
    ("form_id", "last_modified_at"), has_deleted_at=False,
)  # fmt: skip
CONFLUENCE_PAGES = Landing(
    "confluence_pages", "confluence_page_versions", ("page_id",), ("text",),
    ("space_key", "title", "version_number", "last_modified_at"), has_deleted_at=True,
)  # fmt: skip
SQL_ROWS = Landing(
    "sql_rows", "sql_row_versions", ("source_name", "row_key"), ("text", "text"),
    ("watermark_value",), has_deleted_at=True,
)  # fmt: skip


@dataclass(frozen=True)
class LandingRow:
    """One record: its key values (in `Landing.keys` order), extra columns, payload."""

    key: tuple[Any, ...]
    columns: dict[str, Any]
    payload: dict[str, Any]


@dataclass
class LoadCounts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    tombstoned: int = 0
    keys_written: list[tuple[Any, ...]] = field(default_factory=list, repr=False)

    def add(self, other: LoadCounts) -> None:
        self.new += other.new
        self.changed += other.changed
        self.unchanged += other.unchanged
        self.tombstoned += other.tombstoned

    def as_dict(self) -> dict[str, int]:
        return {
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "tombstoned": self.tombstoned,
        }


def payload_hash(payload: dict[str, Any]) -> str:
    """sha256 of canonical JSON: key order and whitespace never count as a change."""
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _ident(name: str) -> sql.Composable:
    return sql.Identifier("raw", name)


def _key_match(spec: Landing, alias: str = "t") -> sql.Composable:
    """`(t.k1, t.k2) in (select * from unnest(%s::type[], …))`: one array per key column."""
    left = sql.SQL(", ").join(sql.Identifier(alias, key) for key in spec.keys)
    arrays = sql.SQL(", ").join(
        sql.SQL("%s::{}[]").format(sql.SQL(key_type)) for key_type in spec.key_types
    )
    return sql.SQL("({}) in (select * from unnest({}))").format(left, arrays)


def _key_arrays(spec: Landing, keys: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    return [[key[i] for key in keys] for i in range(len(spec.keys))]


def existing_state(
    conn: psycopg.Connection, spec: Landing, keys: Sequence[tuple[Any, ...]]
) -> dict[tuple[Any, ...], tuple[str, bool]]:
    """key → (payload_hash, is_deleted) of the stored rows among `keys`."""
    if not keys:
        return {}
    query = sql.SQL("select {}, t.payload_hash, t.is_deleted from {} as t where {}").format(
        sql.SQL(", ").join(sql.Identifier("t", key) for key in spec.keys),
        _ident(spec.table),
        _key_match(spec),
    )
    width = len(spec.keys)
    rows = conn.execute(query, _key_arrays(spec, keys)).fetchall()
    return {tuple(row[:width]): (row[width], row[width + 1]) for row in rows}


def upsert(
    conn: psycopg.Connection, spec: Landing, rows: Iterable[LandingRow], batch_id: uuid.UUID
) -> LoadCounts:
    """Insert new keys, version changed ones, skip unchanged. Run inside a transaction."""
    latest: dict[tuple[Any, ...], LandingRow] = {}
    for row in rows:
        latest[row.key] = row  # the last payload of a key within a batch wins
    hashed = {key: (row, payload_hash(row.payload)) for key, row in latest.items()}
    stored = existing_state(conn, spec, list(hashed))
    counts = LoadCounts()
    to_write: list[tuple[LandingRow, str]] = []
    to_close: list[tuple[Any, ...]] = []
    for key, (row, digest) in hashed.items():
        previous = stored.get(key)
        if previous is None:
            counts.new += 1
        elif previous[0] == digest and not previous[1]:
            counts.unchanged += 1
            continue
        else:
            counts.changed += 1
            to_close.append(key)
        to_write.append((row, digest))
    if to_close:
        _close_versions(conn, spec, to_close)
    if to_write:
        _insert_versions(conn, spec, to_write, batch_id)
        _upsert_latest(conn, spec, to_write, batch_id)
    counts.keys_written = [row.key for row, _ in to_write]
    return counts


def _close_versions(conn: psycopg.Connection, spec: Landing, keys: Sequence[tuple]) -> None:
    query = sql.SQL("update {} as t set valid_to = now() where t.valid_to is null and {}").format(
        _ident(spec.versions), _key_match(spec)
    )
    conn.execute(query, _key_arrays(spec, keys))


def _insert_versions(
    conn: psycopg.Connection, spec: Landing, rows: list[tuple[LandingRow, str]], batch_id: uuid.UUID
) -> None:
    columns = [*spec.keys, "payload_hash", "payload", "valid_from", "_batch_id"]
    query = sql.SQL("insert into {} ({}) values ({}, now(), %s)").format(
        _ident(spec.versions),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * (len(spec.keys) + 2)),
    )
    params = [(*row.key, digest, Jsonb(row.payload), batch_id) for row, digest in rows]
    with conn.cursor() as cur:
        cur.executemany(query, params)


def _upsert_latest(
    conn: psycopg.Connection, spec: Landing, rows: list[tuple[LandingRow, str]], batch_id: uuid.UUID
) -> None:
    data_columns = [*spec.columns, "payload", "payload_hash", "_batch_id"]
    updates = [
        sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c))
        for c in [*data_columns, "_loaded_at"]
    ]
    updates.append(sql.SQL("is_deleted = false"))
    if spec.has_deleted_at:
        updates.append(sql.SQL("deleted_at = null"))
    query = sql.SQL(
        "insert into {table} ({cols}, _loaded_at) values ({vals}, now()) "
        "on conflict ({keys}) do update set {updates}"
    ).format(
        table=_ident(spec.table),
        cols=sql.SQL(", ").join(map(sql.Identifier, [*spec.keys, *data_columns])),
        vals=sql.SQL(", ").join(sql.Placeholder() * (len(spec.keys) + len(data_columns))),
        keys=sql.SQL(", ").join(map(sql.Identifier, spec.keys)),
        updates=sql.SQL(", ").join(updates),
    )
    params = [
        (
            *row.key,
            *(row.columns.get(column) for column in spec.columns),
            Jsonb(row.payload),
            digest,
            batch_id,
        )
        for row, digest in rows
    ]
    with conn.cursor() as cur:
        cur.executemany(query, params)


def tombstone(
    conn: psycopg.Connection, spec: Landing, keys: Sequence[tuple[Any, ...]], batch_id: uuid.UUID
) -> int:
    """Mark keys deleted (the payload stays) and close their open versions."""
    if not keys:
        return 0
    sets = [sql.SQL("is_deleted = true"), sql.SQL("_batch_id = %s")]
    if spec.has_deleted_at:
        sets.append(sql.SQL("deleted_at = now()"))
    query = sql.SQL("update {} as t set {} where not t.is_deleted and {}").format(
        _ident(spec.table), sql.SQL(", ").join(sets), _key_match(spec)
    )
    cursor = conn.execute(query, [batch_id, *_key_arrays(spec, keys)])
    _close_versions(conn, spec, keys)
    return cursor.rowcount


def live_confluence_pages(conn: psycopg.Connection, spaces: Sequence[str]) -> set[str]:
    """Ids of stored, not-deleted pages of these spaces (the deletion sweep's baseline)."""
    rows = conn.execute(
        "select page_id from raw.confluence_pages where not is_deleted and space_key = any(%s)",
        [list(spaces)],
    ).fetchall()
    return {row[0] for row in rows}


def live_pyrus_tasks(conn: psycopg.Connection, form_id: int) -> set[int]:
    """Ids of stored, not-deleted tasks of a form (a full run's deletion baseline)."""
    rows = conn.execute(
        "select task_id from raw.pyrus_tasks where not is_deleted and form_id = %s", [form_id]
    ).fetchall()
    return {row[0] for row in rows}


def stored_task_stamps(conn: psycopg.Connection, task_ids: Sequence[int]) -> dict[int, str | None]:
    """task id → the stored payload's raw `last_modified_date` (live tasks only).

    Compared as the API's own string, so a malformed date still matches itself and an
    unchanged task is never fetched again.
    """
    if not task_ids:
        return {}
    rows = conn.execute(
        "select task_id, payload ->> 'last_modified_date' from raw.pyrus_tasks "
        "where not is_deleted and task_id = any(%s)",
        [list(task_ids)],
    ).fetchall()
    return {row[0]: row[1] for row in rows}


def upsert_forms(
    conn: psycopg.Connection, forms: Iterable[dict[str, Any]], batch_id: uuid.UUID
) -> int:
    """Land form definitions (latest only); returns how many were new or changed."""
    query = (
        "insert into raw.pyrus_forms (form_id, payload, payload_hash, _batch_id, _loaded_at) "
        "values (%s, %s, %s, %s, now()) on conflict (form_id) do update set "
        "payload = excluded.payload, payload_hash = excluded.payload_hash, "
        "_batch_id = excluded._batch_id, _loaded_at = now() "
        "where raw.pyrus_forms.payload_hash <> excluded.payload_hash"
    )
    written = 0
    for form in forms:
        cursor = conn.execute(query, [int(form["id"]), Jsonb(form), payload_hash(form), batch_id])
        written += cursor.rowcount
    return written


# --- watermarks and run bookkeeping ----------------------------------------------------


def get_sync_state(
    conn: psycopg.Connection, source: str, scope: str
) -> tuple[datetime | None, dict[str, Any]]:
    row = conn.execute(
        "select watermark, state from raw.sync_state where source = %s and scope = %s",
        [source, scope],
    ).fetchone()
    return (row[0], dict(row[1] or {})) if row else (None, {})


def set_sync_state(
    conn: psycopg.Connection,
    source: str,
    scope: str,
    watermark: datetime | None,
    state: dict[str, Any] | None = None,
) -> None:
    """Advance a watermark; call it in (or after) the transaction of the last batch."""
    conn.execute(
        "insert into raw.sync_state (source, scope, watermark, state, updated_at) "
        "values (%s, %s, %s, %s, now()) on conflict (source, scope) do update set "
        "watermark = excluded.watermark, state = excluded.state, updated_at = now()",
        [source, scope, watermark, Jsonb(state or {})],
    )


def rewind_watermarks(conn: psycopg.Connection, moment: datetime) -> int:
    """Set every watermark later than `moment` back to it (a backfill); returns how many moved.

    Loads are idempotent upserts, so re-reading from an earlier point never duplicates.
    """
    with conn.transaction():
        cursor = conn.execute(
            "update raw.sync_state set watermark = %s, updated_at = now() where watermark > %s",
            (moment, moment),
        )
    return cursor.rowcount


def start_run(conn: psycopg.Connection, source: str) -> uuid.UUID:
    batch_id = uuid.uuid4()
    with conn.transaction():
        conn.execute(
            "insert into raw.extract_runs (batch_id, source) values (%s, %s)", [batch_id, source]
        )
    return batch_id


@contextlib.contextmanager
def recorded_run(
    conn: psycopg.Connection,
    source: str,
    summary: Any,
    http_snapshot: Callable[[], Any] | None = None,
) -> Iterator[uuid.UUID]:
    """One extract run in raw.extract_runs: started, then succeeded, or failed with the error.

    `summary` (with `as_dict()` and an `http` slot) is written either way, so a failed run
    still shows what it loaded before the failure.
    """
    batch_id = start_run(conn, source)
    try:
        yield batch_id
    except Exception as exc:
        if http_snapshot is not None:
            summary.http = http_snapshot()
        finish_run(
            conn, batch_id, status="failed", stats=summary.as_dict(),
            error=f"{type(exc).__name__}: {exc}",
        )  # fmt: skip
        raise
    if http_snapshot is not None:
        summary.http = http_snapshot()
    finish_run(conn, batch_id, status="succeeded", stats=summary.as_dict())


def finish_run(
    conn: psycopg.Connection,
    batch_id: uuid.UUID,
    *,
    status: str,
    stats: dict[str, Any],
    error: str | None = None,
) -> None:
    with conn.transaction():
        conn.execute(
            "update raw.extract_runs set finished_at = now(), status = %s, stats = %s, "
            "error = %s where batch_id = %s",
            [status, Jsonb(stats), error, batch_id],
        )


def record_error(
    conn: psycopg.Connection, batch_id: uuid.UUID, source: str, object_id: str | None, error: str
) -> None:
    """Keep a per-object failure (a task gone between register and GET) without failing."""
    with conn.transaction():
        conn.execute(
            "insert into raw.extract_errors (batch_id, source, object_id, error) "
            "values (%s, %s, %s, %s)",
            [batch_id, source, object_id, error[:2000]],
        )
    logger.warning("%s object %s: %s", source, object_id, error)
