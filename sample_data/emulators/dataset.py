"""Load a sample dataset directory and compute "as of" views at an emulated time.

The dataset stores every task and page in its *final* state (the whole history). The
emulators show the world as it was at the clock's time T: a task exists once created,
sees only the comments written by T, and its fields are the replay of those comments'
`field_updates`. That is how one static dataset can play "day 1" and then "day 2".
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_DATASET_DIR = Path(__file__).resolve().parents[1] / "dataset"
READ_ONLY_TYPES = {"status", "step", "creation_date", "author", "note", "project"}


class DatasetError(Exception):
    """The dataset directory is missing or malformed."""


def parse_ts(value: str) -> datetime:
    """Parse an ISO timestamp (`Z` or an offset) into an aware UTC datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_ts(value: datetime) -> str:
    """Pyrus timestamp format: `YYYY-MM-DDThh:mm:ssZ`, UTC, no fractions."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Clock:
    """The emulated "now", shared by both emulators; only tests and demos move it."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, *, days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
        """Move the clock forward and return the new time."""
        delta = timedelta(days=days, hours=hours, minutes=minutes)
        if delta < timedelta(0):
            raise ValueError("the emulated clock only moves forward")
        with self._lock:
            self._now += delta
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when.astimezone(UTC)


@dataclass
class Dataset:
    """Everything in a dataset directory, tasks indexed by id."""

    root: Path
    metadata: dict[str, Any]
    form: dict[str, Any]
    members: dict[str, Any]
    tasks: dict[int, dict[str, Any]]
    pages: list[dict[str, Any]]
    versions: dict[int, int] = field(default_factory=dict)  # bumped on every mutation

    @property
    def form_id(self) -> int:
        return int(self.metadata.get("form_id") or self.form["id"])

    @property
    def day1_cutoff(self) -> datetime:
        return parse_ts(self.metadata["day1_cutoff"])

    def field_definition(self, field_id: int) -> dict[str, Any] | None:
        """The form's definition of a field, looking inside titles too."""
        stack = list(self.form.get("fields", []))
        while stack:
            item = stack.pop()
            if item.get("id") == field_id:
                return item
            stack.extend(item.get("info", {}).get("fields", []) or [])
        return None

    def touch(self, task_id: int) -> None:
        """Invalidate cached views of a task after it changed."""
        self.versions[task_id] = self.versions.get(task_id, 0) + 1


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DatasetError(f"dataset file missing: {path}") from exc
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: invalid JSON ({exc})") from exc


def load_dataset(root: Path | str = DEFAULT_DATASET_DIR) -> Dataset:
    """Read a dataset directory (see the contract in the README)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(
            f"dataset directory {root} does not exist; generate it first "
            "(sample_data) or pass --dataset"
        )
    metadata = _read_json(root / "metadata.json")
    form = _read_json(root / "pyrus_form.json")
    members = _read_json(root / "pyrus_members.json")
    tasks: dict[int, dict[str, Any]] = {}
    tasks_path = root / "pyrus_tasks.jsonl"
    try:
        lines = tasks_path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise DatasetError(f"dataset file missing: {tasks_path}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            task = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{tasks_path}:{number}: invalid JSON ({exc})") from exc
        if "id" not in task or "create_date" not in task:
            raise DatasetError(f"{tasks_path}:{number}: a task needs id and create_date")
        task.setdefault("comments", [])
        tasks[int(task["id"])] = task
    pages_path = root / "confluence_pages.json"
    pages = _read_json(pages_path) if pages_path.exists() else []
    dataset = Dataset(
        root=root,
        metadata=metadata,
        form=form,
        members=members,
        tasks=tasks,
        pages=pages,
    )
    logger.info("loaded dataset %s: %d tasks, %d pages", root, len(tasks), len(pages))
    return dataset


# --- Pyrus as-of view ------------------------------------------------------------------


def _visible_comments(task: dict[str, Any], at: datetime) -> list[dict[str, Any]]:
    comments = [c for c in task.get("comments", []) if parse_ts(c["create_date"]) <= at]
    return sorted(comments, key=lambda c: parse_ts(c["create_date"]))  # stable on ties


def _close_state(task: dict[str, Any], visible: list[dict[str, Any]]) -> tuple[str | None, bool]:
    """(close_date, closed) after replaying `action` of the visible comments."""
    has_actions = any(c.get("action") for c in task.get("comments", []))
    close_date: str | None = None
    if has_actions:
        for comment in visible:
            if comment.get("action") == "finished":
                close_date = comment["create_date"]
            elif comment.get("action") == "reopened":
                close_date = None
    elif (
        task.get("close_date")
        and visible
        and parse_ts(visible[-1]["create_date"]) >= parse_ts(task["close_date"])
    ):
        # No explicit action: closed once the comment at close_date is visible.
        close_date = task["close_date"]
    return close_date, close_date is not None


def _patch_child(values: dict[int, Any], parent_id: int, update: dict[str, Any]) -> None:
    """Apply an update of a title's child field inside the title's value, keeping order."""
    title = copy.deepcopy(values.get(parent_id)) or {"fields": []}
    child = {k: v for k, v in update.items() if k != "value"} | {"parent_id": parent_id}
    if "value" in update:
        child["value"] = update["value"]
    children = title.setdefault("fields", [])
    index = next((i for i, c in enumerate(children) if c.get("id") == update["id"]), None)
    if index is None:
        children.append(child)
    else:
        children[index] = child
    values[parent_id] = title


def _replayed_fields(
    task: dict[str, Any], visible: list[dict[str, Any]], closed: bool, step: int
) -> list[dict[str, Any]]:
    parents = {
        int(child["id"]): int(field["id"])
        for field in task.get("fields", [])
        if field.get("type") == "title" and isinstance(field.get("value"), dict)
        for child in field["value"].get("fields", [])
    }
    values: dict[int, Any] = {}
    for comment in visible:
        for update in comment.get("field_updates", []) or []:
            if "id" not in update:
                continue
            field_id = int(update["id"])
            if field_id in parents:  # a child of a title: patch it inside the title's value
                _patch_child(values, parents[field_id], update)
            elif "value" in update:
                values[field_id] = update["value"]
            else:
                values.pop(field_id, None)
    fields = []
    for original in task.get("fields", []):
        item = {k: v for k, v in original.items() if k != "value"}
        kind = original.get("type")
        if kind == "status":
            item["value"] = "closed" if closed else "open"
        elif kind == "step":
            item["value"] = step
        elif kind in READ_ONLY_TYPES and "value" in original:
            item["value"] = copy.deepcopy(original["value"])
        elif original["id"] in values:
            item["value"] = copy.deepcopy(values[original["id"]])
        fields.append(item)
    return fields


def task_as_of(task: dict[str, Any], at: datetime, *, extra: bool = False) -> dict[str, Any] | None:
    """The task as GET /tasks/{id} would have shown it at `at`, or None before creation.

    When every comment is visible and nothing was posted through the emulator, the stored
    object is returned unchanged (so the final state is byte-for-byte the dataset's).
    """
    if parse_ts(task["create_date"]) > at:
        return None
    comments = task.get("comments", [])
    visible = _visible_comments(task, at)
    if len(visible) == len(comments) and not extra:
        return copy.deepcopy(task)
    view = copy.deepcopy({k: v for k, v in task.items() if k != "comments"})
    view["comments"] = copy.deepcopy(visible)
    close_date, closed = _close_state(task, visible)
    view.pop("close_date", None)
    if close_date:
        view["close_date"] = close_date
    if "is_closed" in task:
        view["is_closed"] = closed
    step = 1
    for comment in visible:
        if comment.get("changed_step"):
            step = int(comment["changed_step"])
    if not any(c.get("changed_step") for c in comments) and len(visible) == len(comments):
        step = int(task.get("current_step", 1))
    view["current_step"] = step
    view["fields"] = _replayed_fields(task, visible, closed, step)
    last = visible[-1] if visible else None
    view["last_modified_date"] = last["create_date"] if last else task["create_date"]
    if last:
        view["last_note_id"] = last["id"]
    attachments = [a for c in visible for a in c.get("attachments", []) or []]
    view.pop("attachments", None)
    if attachments:
        view["attachments"] = copy.deepcopy(attachments)
    return view


# --- Confluence as-of view ---------------------------------------------------------------


def page_as_of(page: dict[str, Any], at: datetime) -> dict[str, Any] | None:
    """The page's latest version at `at` plus its status, or None if not visible at all.

    Returns a dict with the page's keys, `version` (the chosen version dict) and `status`
    ("current" or "trashed"). A deleted page is trashed unless `"trashed": false` (purged),
    in which case None is returned.
    """
    versions = [v for v in page.get("versions", []) if parse_ts(v["when"]) <= at]
    if not versions:
        return None
    version = max(versions, key=lambda v: int(v["number"]))
    status = page.get("status", "current")
    deleted_at = page.get("deleted_at")
    if deleted_at and parse_ts(deleted_at) <= at:
        if not page.get("trashed", True):  # deleting moves a page to the trash by default
            return None
        status = "trashed"
    first = min(page["versions"], key=lambda v: int(v["number"]))
    return {**page, "version": version, "first_version": first, "status": status}
