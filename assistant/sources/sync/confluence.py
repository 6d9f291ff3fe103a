"""Confluence → raw.confluence_pages (+ versions), with a deletion sweep.

Changed pages: CQL from `watermark − overlap` (rendered in the account's time zone by
the client), landed page by page, each search page its own transaction; an unchanged
body/version hashes the same and is not rewritten. Deleted, trashed or newly
restricted pages never appear in CQL, so every run also lists all current page ids and
tombstones stored pages that are gone. If more than `mass_delete_share` of the stored
pages would go at once (expired permissions, a search index rebuild), the run fails
and tombstones nothing (an empty listing always trips the guard, a single page never
does). The watermark is the newest `version.when` seen, saved in the transaction that
applies the tombstones.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from assistant.sources import landing
from assistant.sources.confluence import (
    PAGE_EXPAND,
    ConfluenceClient,
    SearchCursor,
    page_record,
    pages_cql,
)
from assistant.sources.http import SourceError
from assistant.sources.sync import (
    NO_PROGRESS,
    Progress,
    Sync,
)
from assistant.steps import Step, direct_step

logger = logging.getLogger(__name__)

SOURCE = "confluence"


@dataclass
class ConfluenceSyncOptions:
    spaces: list[str]
    full: bool = False
    overlap: timedelta = timedelta(hours=2)
    mass_delete_share: float = 0.2
    mass_delete_min_pages: int = 2  # a single page going away is never "mass"


def page_row(payload: dict[str, Any]) -> landing.LandingRow:
    record = page_record(payload)
    return landing.LandingRow(
        key=(record.id,),
        columns={
            "space_key": record.space.key if record.space else "",
            "title": record.title,
            "version_number": record.version.number if record.version else None,
            "last_modified_at": record.modified_at,
        },
        payload=payload,
    )


class ConfluenceSync(Sync):
    """One extract run over the configured spaces."""

    source = SOURCE

    def __init__(
        self,
        client: ConfluenceClient,
        conn: psycopg.Connection,
        options: ConfluenceSyncOptions,
        *,
        step: Step = direct_step,
        progress: Progress = NO_PROGRESS,
    ) -> None:
        if not options.spaces:
            raise SourceError("CONFLUENCE_SPACES is empty: name the space keys to extract")
        super().__init__(conn, step=step, progress=progress)
        self.client = client
        self.options = options
        self.scope = "spaces:" + ",".join(sorted(options.spaces))

    def run(self) -> dict[str, Any]:
        with landing.recorded_run(
            self.conn, SOURCE, self.summary, self.client.stats.snapshot
        ) as batch_id:
            self.batch_id = batch_id
            watermark, state = landing.get_sync_state(self.conn, SOURCE, self.scope)
            since = (
                None if self.options.full or watermark is None else watermark - self.options.overlap
            )
            newest = self.load_changed(since, watermark)
            current = self.step(
                "confluence-list-ids", self.client.current_page_ids, self.options.spaces
            )
            self.step("confluence-sweep", self.sweep, current, newest, state)
        return self.summary.as_dict()

    def load_changed(self, since: datetime | None, watermark: datetime | None) -> datetime | None:
        """Land every changed page; return the newest modification time seen."""
        newest = watermark
        cursor: SearchCursor | None = self.client.first_cursor(
            pages_cql(self.options.spaces, since=since, timezone=self.client.timezone),
            expand=PAGE_EXPAND,
            limit=self.client.page_limit,
        )
        seen: set[str] = set()
        while cursor is not None:
            results, cursor = self.step("confluence-search", self.client.search_page, cursor)
            fresh = [r for r in results if isinstance(r, dict) and str(r.get("id")) not in seen]
            seen.update(str(r.get("id")) for r in fresh)
            rows = [page_row(payload) for payload in fresh]
            for row in rows:
                stamp = row.columns["last_modified_at"]
                if stamp is not None and (newest is None or stamp > newest):
                    newest = stamp
            if rows:
                self.step("land-confluence-pages", self.land_pages, rows)
        return newest

    def land_pages(self, rows: list[landing.LandingRow]) -> landing.LoadCounts:
        with self.conn.transaction():
            counts = landing.upsert(self.conn, landing.CONFLUENCE_PAGES, rows, self.batch_id)
        self.summary.counts.add(counts)
        self.summary.fetched += len(rows)
        self.progress.expect(len(rows))
        self.progress.advance(len(rows))
        logger.info(
            "confluence: landed %d pages (%d new, %d changed)",
            len(rows),
            counts.new,
            counts.changed,
        )
        return counts

    def sweep(self, current: set[str], newest: datetime | None, state: dict[str, Any]) -> int:
        """Tombstone stored pages missing from the listing, unless too many would go."""
        with self.conn.transaction():
            gone = self.tombstone_missing(
                landing.CONFLUENCE_PAGES,
                landing.live_confluence_pages(self.conn, self.options.spaces),
                current,
                share=self.options.mass_delete_share,
                min_count=self.options.mass_delete_min_pages,
                what=f"Confluence pages of {', '.join(self.options.spaces)}",
                hint="Check the token's permissions and the search index; if the deletions "
                "are real, raise CONFLUENCE_MASS_DELETE_SHARE for one run",
            )
            landing.set_sync_state(
                self.conn, SOURCE, self.scope, newest,
                {**state, "last_batch_id": str(self.batch_id), "live_pages": len(current)},
            )  # fmt: skip
        if gone:
            logger.info("confluence: tombstoned %d deleted pages: %s", len(gone), gone[:20])
        return len(gone)
