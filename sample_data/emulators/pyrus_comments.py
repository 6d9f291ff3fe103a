"""Validate a comment request (POST /tasks/{id}/comments) and build the stored comment.

Also builds a brand-new ticket from a `new_tickets.jsonl`-style dict, so the demo can
"receive" a fresh customer email and then send the bot its webhook.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sample_data.emulators.dataset import READ_ONLY_TYPES, Dataset, format_ts

ACTIONS = {"finished", "reopened"}
APPROVAL_CHOICES = {"approved", "rejected", "acknowledged", "revoked"}
CHANGE_KEYS = {
    "text",
    "formatted_text",
    "field_updates",
    "action",
    "approval_choice",
    "attachments",
    "subscribers_added",
    "subscribers_removed",
    "reassign_to",
    "approvals_added",
    "added_list_ids",
    "removed_list_ids",
    "due",
    "due_date",
    "spent_minutes",
    "edit_comment_id",
}
COPIED_KEYS = (
    "text",
    "formatted_text",
    "action",
    "approval_choice",
    "channel",
    "spent_minutes",
    "reply_note_id",
    "added_list_ids",
    "removed_list_ids",
    "edit_comment_id",
)


class CommentError(ValueError):
    """The request is invalid; `error_code` is Pyrus's stable code."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code


def _find_definition(dataset: Dataset, update: dict[str, Any]) -> dict[str, Any]:
    if "id" in update:
        found = dataset.field_definition(int(update["id"]))
    else:
        found = None
        stack = list(dataset.form.get("fields", []))
        while stack and found is None:
            item = stack.pop()
            if ("name" in update and item.get("name") == update["name"]) or (
                "code" in update and item.get("info", {}).get("code") == update["code"]
            ):
                found = item
            stack.extend(item.get("info", {}).get("fields", []) or [])
    if found is None:
        raise CommentError("invalid_field_id", f"Field not found: {update}")
    return found


def _person(dataset: Dataset, ref: Any) -> dict[str, Any]:
    members = dataset.members.get("members", [])
    if isinstance(ref, dict):
        for member in members:
            if ("id" in ref and member["id"] == ref["id"]) or (
                "email" in ref and member.get("email", "").lower() == str(ref["email"]).lower()
            ):
                return member
    raise CommentError("validation_error", f"Person not found: {ref}")


def _normalize_value(dataset: Dataset, definition: dict[str, Any], value: Any) -> Any:
    kind = definition.get("type")
    name = definition.get("name")
    if kind in {"text", "email", "phone"} and not isinstance(value, str):
        raise CommentError("validation_error", f"Field {name!r} expects a string")
    if kind in {"number", "money"} and not isinstance(value, int | float):
        raise CommentError("validation_error", f"Field {name!r} expects a number")
    if kind == "multiple_choice":
        options = definition.get("info", {}).get("options", [])
        by_id = {o["choice_id"]: o["choice_value"] for o in options}
        if not isinstance(value, dict):
            raise CommentError("validation_error", f"Field {name!r} expects choice_ids")
        ids = value.get("choice_ids") or ([value["choice_id"]] if "choice_id" in value else [])
        for choice_name in value.get("choice_names", []) if not ids else []:
            ids += [cid for cid, cname in by_id.items() if cname == choice_name]
        if not ids or any(cid not in by_id for cid in ids):
            raise CommentError("validation_error", f"Unknown choice for field {name!r}: {value}")
        return {"choice_id": ids[0], "choice_ids": ids, "choice_names": [by_id[i] for i in ids]}
    if kind == "catalog":
        if not isinstance(value, dict):
            raise CommentError("validation_error", f"Field {name!r} expects item_ids")
        ids = value.get("item_ids") or ([value["item_id"]] if "item_id" in value else [])
        return {"item_id": ids[0], "item_ids": ids} if ids else copy.deepcopy(value)
    if kind == "person":
        return _person(dataset, value)
    return copy.deepcopy(value)


def normalize_field_updates(dataset: Dataset, updates: Any) -> list[dict[str, Any]]:
    """Turn request items `{id|name|code, value}` into full `{id, type, name, value}`."""
    if not isinstance(updates, list) or not all(isinstance(u, dict) for u in updates):
        raise CommentError("validation_error", "field_updates must be a list of objects")
    result = []
    for update in updates:
        definition = _find_definition(dataset, update)
        if definition.get("type") in READ_ONLY_TYPES:
            raise CommentError("validation_error", f"Field {definition['name']!r} is read-only")
        item = {"id": definition["id"], "type": definition["type"], "name": definition["name"]}
        if "value" in update and update["value"] is not None:
            item["value"] = _normalize_value(dataset, definition, update["value"])
        result.append(item)
    return result


def build_comment(
    body: Any,
    dataset: Dataset,
    task_view: dict[str, Any],
    author: dict[str, Any],
    now: datetime,
    comment_id: int,
) -> dict[str, Any]:
    """Validate a comment request against the form and build the comment Pyrus would store."""
    if body is None or body == "":
        raise CommentError("empty_body", "Request body is empty.")
    if not isinstance(body, dict):
        raise CommentError("invalid_json", "Request body must be a JSON object.")
    if not CHANGE_KEYS & {k for k, v in body.items() if v not in (None, "", [])}:
        raise CommentError("text_missing", "Comment text or a change is required.")
    for key in ("text", "formatted_text"):
        if key in body and not isinstance(body[key], str):
            raise CommentError("validation_error", f"{key} must be a string")
    if body.get("action") and body["action"] not in ACTIONS:
        raise CommentError("validation_error", f"unknown action {body['action']!r}")
    if body.get("approval_choice") and body["approval_choice"] not in APPROVAL_CHOICES:
        raise CommentError(
            "validation_error", f"unknown approval_choice {body['approval_choice']!r}"
        )
    channel = body.get("channel")
    if channel is not None and not (
        isinstance(channel, dict) and isinstance(channel.get("type"), str)
    ):
        raise CommentError("validation_error", "channel must be an object with a type")
    comment: dict[str, Any] = {"id": comment_id, "create_date": format_ts(now), "author": author}
    for key in COPIED_KEYS:
        if body.get(key) not in (None, "", []):
            comment[key] = copy.deepcopy(body[key])
    if body.get("field_updates"):
        comment["field_updates"] = normalize_field_updates(dataset, body["field_updates"])
    if body.get("approval_choice"):
        steps = body.get("approval_steps") or [task_view.get("current_step", 1)]
        comment["approval_step"] = int(steps[0])
    if body.get("subscribers_added"):
        comment["subscribers_added"] = [_person(dataset, p) for p in body["subscribers_added"]]
    if body.get("reassign_to"):
        comment["reassigned_to"] = _person(dataset, body["reassign_to"])
    return comment


def _value_for(definition: dict[str, Any], value: Any) -> Any:
    """A ticket value (a plain string) in the shape the field type stores."""
    kind = definition.get("type")
    if kind == "multiple_choice" and isinstance(value, str):
        for option in definition.get("info", {}).get("options", []):
            if option["choice_value"] == value:
                cid = option["choice_id"]
                return {"choice_id": cid, "choice_ids": [cid], "choice_names": [value]}
        return None
    if kind in {"catalog", "person"} and not isinstance(value, dict):
        return None
    return value


def new_task_from_ticket(
    ticket: dict[str, Any], dataset: Dataset, task_id: int, now: datetime, comment_id: int
) -> dict[str, Any]:
    """A final-state task whose first comment carries all initial field values."""
    field_ids: dict[str, int] = dataset.metadata.get("field_ids", {})
    client = ticket.get("client") or {}
    client_email = ticket.get("client_email") or (
        client.get("email") if isinstance(client, dict) else None
    )
    client_name = ticket.get("client_name") or (
        client.get("name") if isinstance(client, dict) else None
    )
    author = ticket.get("author") or {
        "id": 9_000_000 + task_id % 1_000_000,
        "first_name": (client_name or "Клиент").split(" ")[0],
        "last_name": " ".join((client_name or "").split(" ")[1:]),
        "email": client_email or "client@example.invalid",
        "type": "user",
    }
    updates = []
    for key, raw in ticket.items():
        field_id = field_ids.get(key)
        definition = dataset.field_definition(field_id) if field_id else None
        if definition is None or raw in (None, ""):
            continue
        if key == "client" and isinstance(raw, dict):
            raw = raw.get("email") if definition.get("type") == "email" else raw.get("name")
        value = _value_for(definition, raw)
        if value is not None:
            updates.append(
                {
                    "id": definition["id"],
                    "type": definition["type"],
                    "name": definition["name"],
                    "value": value,
                }
            )
    email_field = dataset.field_definition(field_ids.get("client_email", -1))
    if email_field is not None and not any(u["id"] == email_field["id"] for u in updates):
        updates.append(
            {
                "id": email_field["id"],
                "type": email_field["type"],
                "name": email_field["name"],
                "value": author.get("email", ""),
            }
        )
    comment: dict[str, Any] = {
        "id": comment_id,
        "create_date": format_ts(now),
        "text": ticket.get("text") or ticket.get("description") or ticket.get("subject", ""),
        "author": author,
        "channel": {
            "type": ticket.get("channel", "email"),
            "from": {"email": author.get("email", ""), "name": client_name or ""},
        },
        "field_updates": updates,
    }
    fields = []
    for definition in dataset.form.get("fields", []):
        item = {"id": definition["id"], "type": definition["type"], "name": definition["name"]}
        if definition["type"] == "creation_date":
            item["value"] = now.strftime("%Y-%m-%d")
        fields.append(item)
    template = next(
        (t for _, t in sorted(dataset.tasks.items(), reverse=True) if t.get("approvals")), None
    )
    task: dict[str, Any] = {
        "id": task_id,
        "text": f"{dataset.form.get('name', '')}: {ticket.get('subject', '')}",
        "create_date": format_ts(now),
        "last_modified_date": format_ts(now),
        "author": author,
        "form_id": dataset.form_id,
        "current_step": 1,
        "is_closed": False,
        "fields": fields,
        "comments": [comment],
    }
    if template is not None:
        task["approvals"] = [
            [{"person": e["person"], "approval_choice": "waiting"} for e in step]
            for step in template["approvals"]
        ]
    return task
