"""Pyrus → raw.pyrus_forms / raw.pyrus_tasks (+ versions), one form at a time.

Per form: page the register by id (`modified_after` = watermark − overlap, or every task
on a backfill), always with `include_archived=y`: a ticket closed since the last run is
archived and would otherwise never be seen again. Compare each row's `last_modified_date` with
what raw holds, GET only new or changed tasks (threads), land them in batches, each its
own transaction. The watermark (the newest `last_modified_date` seen, i.e. the server's
clock, never ours) is written after the last batch commits. A crash therefore loses
nothing and the rerun GETs exactly the tasks that did not land; a no-change rerun makes
register calls only. A full run lists every task of the form, so it also tombstones
the tasks Pyrus no longer lists (deleted), behind the same mass-deletion guard as
Confluence.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg

from assistant.sources import landing
from assistant.sources.pyrus import PyrusClient, TaskNotFound
from assistant.sources.pyrus_records import RegisterTask, parse_pyrus_datetime
from assistant.sources.sync import (
    NO_PROGRESS,
    Progress,
    Sync,
    chunks,
)
from assistant.steps import Step, direct_step

logger = logging.getLogger(__name__)

SOURCE = "pyrus"


@dataclass
class PyrusSyncOptions:
    form_ids: list[int] = field(default_factory=list)  # empty: every form GET /forms lists
    full: bool = False
    overlap: timedelta = timedelta(minutes=10)
    batch_size: int = 100
    page_size: int = 1000
    workers: int = 4
    mass_delete_share: float = 0.2
    mass_delete_min_tasks: int = 2


@dataclass
class FetchedBatch:
    payloads: list[dict[str, Any]]
    missing: list[tuple[int, str]]


def task_row(payload: dict[str, Any], form_id: int) -> landing.LandingRow:
    return landing.LandingRow(
        key=(int(payload["id"]),),
        columns={
            "form_id": payload.get("form_id") or form_id,
            "last_modified_at": parse_pyrus_datetime(payload.get("last_modified_date")),
        },
        payload=payload,
    )


class PyrusSync(Sync):
    """One extract run over the configured forms."""

    source = SOURCE

    def __init__(
        self,
        client: PyrusClient,
        conn: psycopg.Connection,
        options: PyrusSyncOptions,
        *,
        step: Step = direct_step,
        progress: Progress = NO_PROGRESS,
    ) -> None:
        super().__init__(conn, step=step, progress=progress)
        self.client = client
        self.options = options

    def run(self) -> dict[str, Any]:
        with landing.recorded_run(
            self.conn, SOURCE, self.summary, self.client.stats.snapshot
        ) as batch_id:
            self.batch_id = batch_id
            forms = self.step("pyrus-forms", self.client.forms)
            self.step("land-pyrus-forms", self.land_forms, forms)
            form_ids = self.options.form_ids or [int(form["id"]) for form in forms]
            for form_id in form_ids:
                self.sync_form(form_id)
        return self.summary.as_dict()

    def land_forms(self, forms: list[dict[str, Any]]) -> int:
        with self.conn.transaction():
            return landing.upsert_forms(self.conn, forms, self.batch_id)

    def sync_form(self, form_id: int) -> None:
        scope = f"form:{form_id}"
        watermark, state = landing.get_sync_state(self.conn, SOURCE, scope)
        backfill = self.options.full or watermark is None
        since = None if backfill else watermark - self.options.overlap
        newest = watermark
        after_id = 0
        listed: set[int] | None = set() if since is None else None  # full listing: sweep
        logger.info("pyrus form %s: %s", form_id, "backfill" if backfill else f"since {since}")
        while True:
            page: list[RegisterTask] = self.step(
                "pyrus-register", self.fetch_register, form_id, after_id, since
            )
            for task in page:
                stamp = task.modified_at
                if stamp is not None and (newest is None or stamp > newest):
                    newest = stamp
            if listed is not None:
                listed.update(task.id for task in page)
            todo = self.step("pyrus-diff-register", self.changed_tasks, page)
            self.summary.counts.unchanged += len(page) - len(todo)
            self.progress.expect(len(page))
            self.progress.advance(len(page) - len(todo))
            for batch in chunks(todo, self.options.batch_size):
                fetched: FetchedBatch = self.step("pyrus-get-tasks", self.fetch_tasks, batch)
                self.step("land-pyrus-tasks", self.land_tasks, fetched, form_id)
                self.progress.advance(len(batch))
            if len(page) < self.options.page_size:
                break
            after_id = max(task.id for task in page)
        self.step("pyrus-watermark", self.save_watermark, form_id, newest, state, listed)

    def fetch_register(
        self, form_id: int, after_id: int, since: datetime | None
    ) -> list[RegisterTask]:
        return self.client.register_page(
            form_id,
            after_id=after_id,
            modified_after=since,
            include_archived=True,
            page_size=self.options.page_size,
        )

    def changed_tasks(self, page: list[RegisterTask]) -> list[int]:
        """Ids whose register stamp differs from the stored payload's (or are new)."""
        stored = landing.stored_task_stamps(self.conn, [task.id for task in page])
        return [
            task.id
            for task in page
            if task.id not in stored or stored[task.id] != task.last_modified_date
        ]

    def fetch_tasks(self, task_ids: list[int]) -> FetchedBatch:
        """GET each task in worker threads; a 404 is noted, not fatal."""

        def one(task_id: int) -> tuple[int, dict[str, Any] | None, str | None]:
            try:
                return task_id, self.client.get_task(task_id), None
            except TaskNotFound as exc:
                return task_id, None, str(exc)

        with ThreadPoolExecutor(max_workers=max(1, self.options.workers)) as pool:
            results = list(pool.map(one, task_ids))
        return FetchedBatch(
            payloads=[payload for _, payload, _ in results if payload is not None],
            missing=[(task_id, error) for task_id, _, error in results if error is not None],
        )

    def land_tasks(self, fetched: FetchedBatch, form_id: int) -> landing.LoadCounts:
        for task_id, error in fetched.missing:
            landing.record_error(self.conn, self.batch_id, SOURCE, str(task_id), error)
        with self.conn.transaction():
            counts = landing.upsert(
                self.conn,
                landing.PYRUS_TASKS,
                (task_row(payload, form_id) for payload in fetched.payloads),
                self.batch_id,
            )
        self.summary.counts.add(counts)
        self.summary.errors += len(fetched.missing)
        self.summary.fetched += len(fetched.payloads)
        logger.info(
            "form %s: landed %d tasks (%d new, %d changed)",
            form_id, len(fetched.payloads), counts.new, counts.changed,
        )  # fmt: skip
        return counts

    def save_watermark(
        self,
        form_id: int,
        newest: datetime | None,
        state: dict[str, Any],
        listed: set[int] | None,
    ) -> None:
        """Advance the watermark; after a full listing, tombstone tasks no longer listed."""
        with self.conn.transaction():
            if listed is not None:
                gone = self.tombstone_missing(
                    landing.PYRUS_TASKS,
                    landing.live_pyrus_tasks(self.conn, form_id),
                    listed,
                    share=self.options.mass_delete_share,
                    min_count=self.options.mass_delete_min_tasks,
                    what=f"Pyrus tasks of form {form_id}",
                    hint="Check the account's access to the form; if the deletions are real, "
                    "raise PYRUS_MASS_DELETE_SHARE for one run",
                )
                if gone:
                    logger.info("form %s: tombstoned %d deleted tasks", form_id, len(gone))
            landing.set_sync_state(
                self.conn, SOURCE, f"form:{form_id}", newest,
                {**state, "last_batch_id": str(self.batch_id)},
            )  # fmt: skip
