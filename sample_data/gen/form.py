"""The support form (GET /forms/{id}) and helpers that build its field values."""

from __future__ import annotations

from typing import Any

from sample_data.gen.content import Category

FORM_ID = 523411
FORM_NAME = "Обращения в поддержку"
PRIORITIES = ("Низкий", "Обычный", "Высокий", "Критический")
FEEDBACK = ("да", "частично", "нет")
# metadata key -> (field id, type, name, code)
FIELDS: dict[str, tuple[int, str, str, str]] = {
    "subject": (1, "text", "Тема", "u_subject"),
    "description": (2, "text", "Описание проблемы", "u_description"),
    "category": (3, "multiple_choice", "Категория", "u_category"),
    "client": (4, "text", "Организация клиента", "u_client"),
    "client_email": (5, "email", "Email клиента", "u_client_email"),
    "priority": (6, "multiple_choice", "Приоритет", "u_priority"),
    "draft_reply": (7, "text", "Черновик ответа", "u_ai_draft"),
    "assistant_feedback": (8, "multiple_choice", "Помог ли ИИ-помощник", "u_ai_feedback"),
}


def field_ids() -> dict[str, int]:
    """Field ids by role, as written into metadata.json."""
    return {key: spec[0] for key, spec in FIELDS.items()}


def _options(names: list[str] | tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"choice_id": i, "choice_value": name} for i, name in enumerate(names, start=1)]


def form_response(categories: list[Category], owner_id: int) -> dict[str, Any]:
    """GET /forms/{id}: the support form; category choices follow the taxonomy seed order."""
    choices = {
        "category": _options([c.name_ru for c in categories]),
        "priority": _options(PRIORITIES),
        "assistant_feedback": _options(FEEDBACK),
    }
    fields = []
    for key, (fid, ftype, name, code) in FIELDS.items():
        info: dict[str, Any] = {"code": code}
        if key in ("subject", "description"):
            info["required_step"] = 1
        if key in ("description", "draft_reply"):
            info["multiline"] = True
        if key in choices:
            info["options"] = choices[key]
        fields.append({"id": fid, "type": ftype, "name": name, "info": info})
    return {
        "id": FORM_ID,
        "name": FORM_NAME,
        "steps": {"1": "Первичный разбор", "2": "Решение"},
        "fields": fields,
        "deleted_or_closed": False,
        "business_owners": [owner_id],
        "folder": ["Поддержка"],
        "print_forms": [],
    }


def value_field(key: str, value: Any) -> dict[str, Any]:
    """A field entry with a value, shaped like `fields[]` / `field_updates[]` items."""
    fid, ftype, name, _code = FIELDS[key]
    return {"id": fid, "type": ftype, "name": name, "value": value}


def choice_value(choice_id: int, choice_name: str) -> dict[str, Any]:
    """A multiple_choice value in the shape GET /tasks returns."""
    return {"choice_id": choice_id, "choice_ids": [choice_id], "choice_names": [choice_name]}


def task_fields(current: dict[int, Any]) -> list[dict[str, Any]]:
    """The task's `fields[]` in form order; empty fields are listed without `value`."""
    result = []
    for key, (fid, ftype, name, _code) in FIELDS.items():
        if fid in current:
            result.append(value_field(key, current[fid]))
        else:
            result.append({"id": fid, "type": ftype, "name": name})
    return result
