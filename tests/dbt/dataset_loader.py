"""Load H1's generated sample dataset (sample_data/dataset) straight into schema raw.

Tasks and the form go in as they are (GET /tasks/{id} and GET /forms/{id} shapes).
Pages are rendered into REST content items by the Confluence emulator's own renderer,
as of the dataset's last day, so they have exactly the shape the extract lands.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from sample_data.emulators.confluence_render import render_content
from sample_data.emulators.dataset import load_dataset, page_as_of, parse_ts

BATCH_ID = uuid.UUID("00000000-0000-4000-8000-000000000002")
BASE_URL = "https://wiki.example.ru"
EXPAND = {"body.storage", "version", "ancestors", "metadata.labels", "space", "history"}


def _hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def load_sample_dataset(database_url: str, root: Path) -> dict[str, int]:
    """Insert the dataset's form, tasks and pages into raw; returns the counts loaded."""
    dataset = load_dataset(root)
    as_of = parse_ts(dataset.metadata["date_range"]["end"])
    counts = {"forms": 0, "tasks": 0, "pages": 0}
    with psycopg.connect(database_url) as conn:
        form = dataset.form
        conn.execute(
            "insert into raw.pyrus_forms (form_id, payload, payload_hash, _batch_id)"
            " values (%s, %s, %s, %s)",
            (form["id"], Jsonb(form), _hash(form), BATCH_ID),
        )
        counts["forms"] += 1
        with conn.cursor() as cur:
            cur.executemany(
                "insert into raw.pyrus_tasks (task_id, form_id, last_modified_at, payload,"
                " payload_hash, _batch_id) values (%s, %s, %s, %s, %s, %s)",
                [
                    (
                        task["id"],
                        task.get("form_id", form["id"]),
                        task.get("last_modified_date"),
                        Jsonb(task),
                        _hash(task),
                        BATCH_ID,
                    )
                    for task in dataset.tasks.values()
                ],
            )
        counts["tasks"] = len(dataset.tasks)
        for page in dataset.pages:
            view = page_as_of(page, as_of)
            if view is None:
                continue
            item = render_content(view, EXPAND, BASE_URL)
            deleted = item["status"] != "current"
            conn.execute(
                "insert into raw.confluence_pages (page_id, space_key, title, version_number,"
                " last_modified_at, is_deleted, payload, payload_hash, _batch_id)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    item["id"],
                    view["space_key"],
                    item.get("title"),
                    item.get("version", {}).get("number"),
                    item.get("version", {}).get("when"),
                    deleted,
                    Jsonb(item),
                    _hash(item),
                    BATCH_ID,
                ),
            )
            counts["pages"] += 1
        conn.commit()
    return counts
