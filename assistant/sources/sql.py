"""Optional SQL source: the operator's own queries against `KB_SQL_SOURCE_URL`.

Each `*.sql` file in `KB_SQL_SOURCE_DIR` is one query, named by its file stem, with
two header comments naming its key and watermark columns:

    -- key: ticket_id
    -- watermark: updated_at
    select ticket_id, updated_at, subject, body from helpdesk.tickets

The query runs wrapped (`select * from (<query>) as kb_source where …`) in a read-only
transaction, one keyset page at a time ordered by (watermark, key), so a long export
never holds a snapshot for the whole run and a rerun resumes from the last page.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from assistant.sources.http import SourceError

_HEADER = re.compile(r"^\s*--\s*(key|watermark)\s*:\s*([A-Za-z_][A-Za-z0-9_]*)\s*$", re.M)


@dataclass(frozen=True)
class SqlQuery:
    name: str
    text: str
    key_column: str
    watermark_column: str


def load_queries(directory: Path) -> list[SqlQuery]:
    """Every `*.sql` in `directory`; a file without its headers is a clear error."""
    if not directory.is_dir():
        raise SourceError(f"KB_SQL_SOURCE_DIR {directory} is not a directory")
    queries = []
    for path in sorted(directory.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        headers = dict(match.groups() for match in _HEADER.finditer(text))
        missing = {"key", "watermark"} - headers.keys()
        if missing:
            raise SourceError(
                f"{path}: add header comment(s) {', '.join(f'-- {m}: <column>' for m in missing)}"
            )
        body = text.strip().rstrip(";").strip()
        queries.append(SqlQuery(path.stem, body, headers["key"], headers["watermark"]))
    if not queries:
        raise SourceError(f"KB_SQL_SOURCE_DIR {directory} holds no *.sql files")
    return queries


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    raise TypeError(f"cannot store {type(value).__name__} in a payload")


def to_payload(row: dict[str, Any]) -> dict[str, Any]:
    """A row as plain JSON types (dates ISO 8601, decimals as strings)."""
    return json.loads(json.dumps(row, default=_jsonable, ensure_ascii=False))


@dataclass(frozen=True)
class Position:
    """Where the next page starts: after (watermark, key), or at watermark ≥ `since`."""

    since: Any = None
    after: tuple[Any, Any] | None = None


def fetch_page(
    url: str, query: SqlQuery, position: Position, limit: int
) -> tuple[list[dict[str, Any]], Position | None]:
    """One page of rows in (watermark, key) order and the position after it."""
    wm = sql.Identifier("kb_source", query.watermark_column)
    key = sql.Identifier("kb_source", query.key_column)
    params: list[Any] = []
    if position.after is not None:
        condition = sql.SQL("({}, {}) > (%s, %s)").format(wm, key)
        params.extend(position.after)
    elif position.since is not None:
        condition = sql.SQL("{} >= %s").format(wm)
        params.append(position.since)
    else:
        condition = sql.SQL("true")
    statement = sql.SQL("select * from ({}) as kb_source where {} order by {}, {} limit %s").format(
        sql.SQL(query.text), condition, wm, key
    )  # type: ignore[arg-type]
    params.append(limit)
    try:
        with psycopg.connect(url, row_factory=dict_row, connect_timeout=10) as conn:
            conn.read_only = True
            rows = conn.execute(statement, params).fetchall()
    except psycopg.Error as exc:
        raise SourceError(f"SQL source query {query.name!r} failed: {exc}") from exc
    if rows and (query.key_column not in rows[0] or query.watermark_column not in rows[0]):
        raise SourceError(
            f"SQL source query {query.name!r} must return columns "
            f"{query.key_column!r} and {query.watermark_column!r}"
        )
    if len(rows) < limit:
        return rows, None
    last = rows[-1]
    return rows, Position(after=(last[query.watermark_column], last[query.key_column]))
