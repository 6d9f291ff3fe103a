"""SQL source → raw.sql_rows (+ versions): one scope per query file.

The watermark is the largest watermark-column value landed, kept as text in
`raw.sync_state.state` (the column may be a timestamp or a number); the next run reads
from it inclusively (`>=`), and unchanged rows hash the same, so the overlap is free.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from assistant.sources import landing
from assistant.sources.sql import Position, SqlQuery, fetch_page, load_queries, to_payload
from assistant.sources.sync import NO_PROGRESS, Progress, Sync
from assistant.steps import Step, direct_step

logger = logging.getLogger(__name__)

SOURCE = "sql"


@dataclass
class SqlSyncOptions:
    source_url: str
    query_dir: Path
    full: bool = False
    batch_size: int = 500


class SqlSync(Sync):
    """One extract run over the query files of KB_SQL_SOURCE_DIR."""

    source = SOURCE

    def __init__(
        self,
        conn: psycopg.Connection,
        options: SqlSyncOptions,
        *,
        step: Step = direct_step,
        progress: Progress = NO_PROGRESS,
    ) -> None:
        super().__init__(conn, step=step, progress=progress)
        self.options = options

    def run(self) -> dict[str, Any]:
        with landing.recorded_run(self.conn, SOURCE, self.summary) as batch_id:
            self.batch_id = batch_id
            for query in load_queries(self.options.query_dir):
                self.sync_query(query)
        return self.summary.as_dict()

    def sync_query(self, query: SqlQuery) -> None:
        _, state = landing.get_sync_state(self.conn, SOURCE, query.name)
        since = None if self.options.full else state.get("watermark_value")
        position: Position | None = Position(since=since)
        newest = since
        while position is not None:
            rows, position = self.step(
                "sql-fetch", fetch_page, self.options.source_url, query, position,
                self.options.batch_size,
            )  # fmt: skip
            self.summary.http["requests"] = self.summary.http.get("requests", 0) + 1
            if not rows:
                break
            payloads = [to_payload(row) for row in rows]
            newest = str(payloads[-1][query.watermark_column])
            self.step("land-sql-rows", self.land_rows, query, payloads)
        self.step("sql-watermark", self.save_watermark, query.name, newest, state)

    def land_rows(self, query: SqlQuery, payloads: list[dict[str, Any]]) -> landing.LoadCounts:
        rows = [
            landing.LandingRow(
                key=(query.name, str(payload[query.key_column])),
                columns={"watermark_value": str(payload[query.watermark_column])},
                payload=payload,
            )
            for payload in payloads
        ]
        with self.conn.transaction():
            counts = landing.upsert(self.conn, landing.SQL_ROWS, rows, self.batch_id)
        self.summary.counts.add(counts)
        self.summary.fetched += len(rows)
        self.progress.expect(len(rows))
        self.progress.advance(len(rows))
        return counts

    def save_watermark(self, name: str, newest: str | None, state: dict[str, Any]) -> None:
        with self.conn.transaction():
            landing.set_sync_state(
                self.conn, SOURCE, name, None,
                {**state, "watermark_value": newest, "last_batch_id": str(self.batch_id)},
            )  # fmt: skip
