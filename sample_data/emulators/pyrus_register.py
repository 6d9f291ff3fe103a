"""The filters of `GET|POST /v4/forms/{id}/register`, as the official clients send them.

The C# client writes lists as comma strings and booleans as "y"; the Python client posts
JSON lists and `true`. Both are accepted. Unknown parameters are ignored, like the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sample_data.emulators.dataset import parse_ts

MAX_ITEM_COUNT = 20000
REGISTER_DROPPED_KEYS = {"comments", "form_id", "approvals", "steps", "subscribers", "attachments"}


class RegisterParamError(ValueError):
    """A register parameter has a value the server would reject (HTTP 400)."""


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"y", "yes", "true", "1"}


def _as_int_list(name: str, value: Any) -> list[int]:
    items = value if isinstance(value, list) else str(value).split(",")
    try:
        return [int(str(item).strip()) for item in items if str(item).strip()]
    except ValueError as exc:
        raise RegisterParamError(f"{name} must be a list of integers") from exc


def _as_time(name: str, value: Any) -> datetime:
    text = str(value).strip()
    try:
        if len(text) == 10:  # YYYY-MM-DD
            return parse_ts(text + "T00:00:00Z")
        if not text.endswith("Z"):
            raise ValueError(text)
        return parse_ts(text)
    except ValueError as exc:
        raise RegisterParamError(f"{name} must be YYYY-MM-DDThh:mm:ssZ (UTC)") from exc


@dataclass
class IdFilter:
    """`id` / `fld{id}` operators: value, gt<v>, lt<v>, gt<a>,lt<b>, a,b,c."""

    greater: float | None = None
    less: float | None = None
    among: set[str] | None = None

    @classmethod
    def parse(cls, raw: Any) -> IdFilter:
        text = ",".join(str(x) for x in raw) if isinstance(raw, list) else str(raw)
        parts = [p.strip() for p in text.split(",") if p.strip()]
        result = cls()
        plain = []
        for part in parts:
            try:
                if part.startswith("gt"):
                    result.greater = float(part[2:])
                elif part.startswith("lt"):
                    result.less = float(part[2:])
                else:
                    plain.append(part)
            except ValueError as exc:
                raise RegisterParamError(f"bad filter value {part!r}") from exc
        if plain:
            result.among = set(plain)
        return result

    def matches(self, value: Any) -> bool:
        if self.among is not None and str(value) not in self.among:
            return False
        try:
            number = float(value)
        except (TypeError, ValueError):
            return self.greater is None and self.less is None
        if self.greater is not None and not number > self.greater:
            return False
        return not (self.less is not None and not number < self.less)


def _field_scalar(field: dict[str, Any]) -> Any:
    value = field.get("value")
    if isinstance(value, dict):
        for key in ("choice_ids", "item_ids"):
            if value.get(key):
                return value[key][0]
        return value.get("id")
    return value


@dataclass
class RegisterQuery:
    """Parsed register parameters."""

    params: dict[str, Any]

    def __post_init__(self) -> None:
        p = self.params
        self.include_archived = _as_bool(p.get("include_archived", False))
        self.bounds = {
            key: _as_time(key, p[key])
            for key in (
                "modified_after",
                "modified_before",
                "created_after",
                "created_before",
                "closed_after",
                "closed_before",
            )
            if p.get(key) not in (None, "")
        }
        self.steps = set(_as_int_list("steps", p["steps"])) if p.get("steps") else None
        self.task_ids = set(_as_int_list("task_ids", p["task_ids"])) if p.get("task_ids") else None
        self.field_ids = _as_int_list("field_ids", p["field_ids"]) if p.get("field_ids") else None
        self.id_filter = IdFilter.parse(p["id"]) if p.get("id") not in (None, "") else None
        self.field_filters = {
            int(key[3:]): str(value)
            for key, value in p.items()
            if key.startswith("fld") and key[3:].isdigit()
        }
        sort = p.get("sort")
        if sort not in (None, "", "id"):
            raise RegisterParamError("only sort=id is supported")
        raw_count = p.get("item_count")
        self.item_count: int | None = None
        if raw_count not in (None, ""):
            try:
                self.item_count = int(raw_count)
            except ValueError as exc:
                raise RegisterParamError("item_count must be an integer") from exc
            if not 0 < self.item_count <= MAX_ITEM_COUNT:
                raise RegisterParamError(f"item_count must be in 1..{MAX_ITEM_COUNT}")

    def _field_ok(self, task: dict[str, Any]) -> bool:
        by_id = {f["id"]: f for f in _flat_fields(task.get("fields", []))}
        for field_id, raw in self.field_filters.items():
            field = by_id.get(field_id, {})
            present = field.get("value") not in (None, "", [], {})
            if raw == "empty":
                if present:
                    return False
            elif raw == "*":
                if not present:
                    return False
            elif not present or not IdFilter.parse(raw).matches(_field_scalar(field)):
                return False
        return True

    def matches(self, task: dict[str, Any], *, archived: bool) -> bool:
        """Does this as-of task view pass every filter?"""
        if archived and not self.include_archived:
            return False
        stamps = {
            "modified": parse_ts(task["last_modified_date"]),
            "created": parse_ts(task["create_date"]),
            "closed": parse_ts(task["close_date"]) if task.get("close_date") else None,
        }
        for key, bound in self.bounds.items():
            kind, side = key.split("_")
            stamp = stamps[kind]
            if stamp is None:
                return False
            if (side == "after" and stamp < bound) or (side == "before" and stamp > bound):
                return False
        if self.steps is not None and task.get("current_step") not in self.steps:
            return False
        if self.task_ids is not None and task["id"] not in self.task_ids:
            return False
        if self.id_filter is not None and not self.id_filter.matches(task["id"]):
            return False
        return self._field_ok(task)

    def render(self, task: dict[str, Any]) -> dict[str, Any]:
        """A register item: the task without comments, optionally only `field_ids`."""
        item = {k: v for k, v in task.items() if k not in REGISTER_DROPPED_KEYS}
        if self.field_ids is not None:
            by_id = {f["id"]: f for f in task.get("fields", [])}
            item["fields"] = [by_id[i] for i in self.field_ids if i in by_id]
        return item


def _flat_fields(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    flat: list[dict[str, Any]] = []
    for field in fields:
        flat.append(field)
        value = field.get("value")
        if isinstance(value, dict) and isinstance(value.get("fields"), list):
            flat.extend(_flat_fields(value["fields"]))
    return flat
