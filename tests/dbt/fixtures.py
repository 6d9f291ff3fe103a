"""Raw rows for the dbt tests, built from the reference samples in `data/`.

The tasks start from `task-with-comments.json` (GET /tasks/{id}) and the register
sample, with comments added in the same shapes so that every event kind occurs: an
inbound e-mail, a bot post, internal notes, a public e-mail reply, a close, a reopen by
the customer, a category change, a private-channel note and a messenger reply without
an explicit direction. The form is built in the exact GET /forms/{id} shape.
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

DATA = Path(__file__).parent / "data"
FORM_ID = 321456
BATCH_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")

PAID_TICKET = 201534789  # closed, reopened, closed again; category changed
OPEN_TICKET = 201536102  # open, only a bot post: no first response
MESSENGER_TICKET = 201537550  # closed; private note + telegram reply
DELETED_TICKET = 201539001  # closed with an answer, then deleted in Pyrus

CARD = "4276 1300 1234 5678"
PHONE = "+7 (916) 123-45-67"
CONTRACT = "договор № 45-12/А"
API_KEY = "sk-live-9f8e7d6c5b4a39281706f5e4d3c2b1a0"

CHOICES = {"outages_bugs": (1, "Сбои и ошибки"), "licenses_billing": (2, "Лицензии и оплата")}


def _load(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


MARINA = _load("task-with-comments.json")["task"]["responsible"]
BOT = _load("task-with-comments.json")["task"]["comments"][1]["author"]


def _choice(code: str | None, name: str | None = None) -> dict[str, Any]:
    if code is None:
        return {"choice_id": 77, "choice_ids": [77], "choice_names": [name]}
    choice_id, choice_name = CHOICES[code]
    return {"choice_id": choice_id, "choice_ids": [choice_id], "choice_names": [choice_name]}


def _set_field(fields: list[dict[str, Any]], field_id: int, value: Any) -> None:
    for field in fields:
        if field["id"] == field_id:
            field["value"] = value
            return
    raise KeyError(field_id)


def form_payload() -> dict[str, Any]:
    """GET /forms/321456: the support form with the fields the project reads."""
    options = [
        {"choice_id": choice_id, "choice_value": name} for choice_id, name in CHOICES.values()
    ]
    options.append({"choice_id": 77, "choice_value": "Доступ к аккаунту"})
    return {
        "id": FORM_ID,
        "name": "Обращения в поддержку",
        "steps": {"1": "Первичный разбор", "2": "Решение"},
        "deleted_or_closed": False,
        "folder": ["Поддержка"],
        "business_owners": [1184377],
        "fields": [
            {"id": 1, "type": "text", "name": "Тема", "info": {"required_step": 1}},
            {"id": 2, "type": "text", "name": "Описание проблемы", "info": {"multiline": True}},
            {
                "id": 17,
                "type": "title",
                "name": "Данные клиента",
                "info": {
                    "fields": [
                        {"id": 3, "type": "email", "name": "Email клиента", "info": {}},
                        {"id": 4, "type": "phone", "name": "Телефон", "info": {}},
                        {"id": 21, "type": "text", "name": "Организация клиента", "info": {}},
                    ]
                },
            },
            {"id": 5, "type": "multiple_choice", "name": "Категория", "info": {"options": options}},
            {"id": 6, "type": "catalog", "name": "Приоритет", "info": {"catalog_id": 98765}},
            {"id": 9, "type": "status", "name": "Статус", "info": {}},
            {"id": 14, "type": "text", "name": "Черновик ответа", "info": {"code": "u_ai_draft"}},
            {
                "id": 22,
                "type": "multiple_choice",
                "name": "Помог ли ИИ-помощник",
                "info": {
                    "options": [
                        {"choice_id": 1, "choice_value": "Да"},
                        {"choice_id": 2, "choice_value": "Нет"},
                    ]
                },
            },
            {
                "id": 18,
                "type": "table",
                "name": "Затронутые заказы",
                "info": {"columns": [{"id": 19, "type": "text", "name": "Номер заказа"}]},
            },
        ],
    }


def _comment(comment_id: int, at: str, author: dict[str, Any], **keys: Any) -> dict[str, Any]:
    return {"id": comment_id, "create_date": at, "author": author, **keys}


def paid_ticket() -> dict[str, Any]:
    """The reference task, reopened by the customer, recategorised and closed again."""
    task = copy.deepcopy(_load("task-with-comments.json")["task"])
    customer = task["author"]
    _set_field(task["fields"], 5, _choice("licenses_billing"))
    task["fields"][2]["value"]["fields"].append(
        {"id": 21, "type": "text", "name": "Организация клиента", "parent_id": 17,
         "value": "ООО «Ромашка»"}
    )  # fmt: skip
    task["fields"].append(
        {"id": 22, "type": "multiple_choice", "name": "Помог ли ИИ-помощник",
         "value": {"choice_ids": [1], "choice_names": ["Да"]}}
    )  # fmt: skip
    _set_field(task["fields"], 2, task["fields"][1]["value"] + f" Ключ API из настроек: {API_KEY}")
    # The creating comment set the category the customer picked.
    _set_field(task["comments"][0]["field_updates"], 5, _choice("outages_bugs"))
    email_in = {"type": "email", "from": {"email": customer["email"], "name": "Алексей Кузнецов"}}
    # A reply by e-mail can carry both addresses: the customer's and the support mailbox.
    email_in_addressed = {**email_in, "to": {"email": "support@example-shop.ru"}}
    email_out = {
        "type": "email",
        "to": {"email": customer["email"], "name": "Алексей Кузнецов"},
        "from": {"email": "support@example-shop.ru", "name": "Поддержка Example Shop"},
    }
    task["comments"] += [
        _comment(1120350001, "2026-11-21T09:00:00Z", customer, action="reopened",
                 text="Снова «Операция отклонена», уже с другой карты.",
                 channel=email_in_addressed),
        _comment(1120350002, "2026-11-21T09:30:00Z", MARINA,
                 field_updates=[{"id": 5, "type": "multiple_choice", "name": "Категория",
                                 "value": _choice("licenses_billing")}]),
        _comment(1120350003, "2026-11-21T10:00:00Z", MARINA, channel=email_out,
                 text=(f"Алексей, мы проверили платёж по карте {CARD}: лимит на онлайн-оплату "
                       f"исчерпан. Если ошибка повторится, звоните {PHONE} или пишите на "
                       f"support@example-shop.ru, укажите {CONTRACT}.")),
        _comment(1120350004, "2026-11-21T10:05:00Z", MARINA, action="finished",
                 spent_minutes=10, text="Закрываю повторно."),
    ]  # fmt: skip
    task["close_date"] = task["last_modified_date"] = "2026-11-21T10:05:00Z"
    task["last_note_id"] = 1120350004
    return task


def _register_task(task_id: int) -> dict[str, Any]:
    for task in _load("form-register-response.json")["tasks"]:
        if task["id"] == task_id:
            task = copy.deepcopy(task)
            task["form_id"] = FORM_ID
            return task
    raise KeyError(task_id)


def open_ticket() -> dict[str, Any]:
    """Open: the customer wrote through the web widget, only the bot answered."""
    task = _register_task(OPEN_TICKET)
    customer = task["author"]
    _set_field(task["fields"], 5, _choice(None, "Доступ к аккаунту"))
    task["comments"] = [
        _comment(1120339911, task["create_date"], customer, channel={"type": "web_widget"},
                 text="Нажимаю «Забыли пароль», письмо не приходит уже час."),
        _comment(1120339950, "2026-11-20T09:13:30Z", BOT,
                 text="Рекомендация для сотрудника (ИИ): проверьте журнал отправки писем."),
    ]  # fmt: skip
    return task


def messenger_ticket() -> dict[str, Any]:
    """Closed: a private note, then a Telegram reply with no direction and no `to`."""
    task = _register_task(MESSENGER_TICKET)
    customer = task["author"]
    _set_field(task["fields"], 2, "Заказ №58877 отменён 18.11, деньги не вернулись. "
               "Пишите на olga.refund@mail.example или звоните 8 916 765 43 21.")  # fmt: skip
    _set_field(task["fields"], 5, _choice("licenses_billing"))
    task["close_date"] = task["last_modified_date"] = "2026-11-20T15:00:00Z"
    task["comments"] = [
        _comment(1120360001, task["create_date"], customer, channel={"type": "telegram"},
                 text="Заказ №58877 отменён 18.11, деньги пока не вернулись."),
        _comment(1120360002, "2026-11-20T13:30:00Z", MARINA,
                 channel={"type": "private_channel"}, text="Возврат проведён банком 19.11."),
        _comment(1120360003, "2026-11-20T13:40:00Z", MARINA, channel={"type": "telegram"},
                 text="Возврат по заказу №58877 оформлен 19.11, деньги придут за 3–5 дней."),
        _comment(1120360004, "2026-11-20T15:00:00Z", MARINA, action="finished",
                 spent_minutes=5),
    ]  # fmt: skip
    return task


def deleted_ticket() -> dict[str, Any]:
    """A closed, answered ticket that was deleted in Pyrus (a tombstone in raw)."""
    task = messenger_ticket()
    task["id"] = DELETED_TICKET
    for offset, comment in enumerate(task["comments"]):
        comment["id"] = 1120370001 + offset
    return task


def confluence_items() -> list[dict[str, Any]]:
    """Three content items as the search returns them; one gets a taxonomy label."""
    items = _load("dc-content-search-page1.json")["results"]
    items += _load("dc-content-search-last-page.json")["results"]
    items = copy.deepcopy(items)
    items[2]["metadata"]["labels"]["results"].append(
        {"prefix": "global", "name": "sso_ldap", "id": "1310730", "label": "sso_ldap"}
    )
    return items


def _hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def insert_task(conn: psycopg.Connection, task: dict[str, Any], *, deleted: bool = False) -> None:
    conn.execute(
        "insert into raw.pyrus_tasks (task_id, form_id, last_modified_at, is_deleted, payload,"
        " payload_hash, _batch_id) values (%s, %s, %s, %s, %s, %s, %s)"
        " on conflict (task_id) do update set payload = excluded.payload,"
        " is_deleted = excluded.is_deleted, payload_hash = excluded.payload_hash",
        (
            task["id"],
            task.get("form_id"),
            task.get("last_modified_date"),
            deleted,
            Jsonb(task),
            _hash(task),
            BATCH_ID,
        ),
    )


def insert_page(conn: psycopg.Connection, item: dict[str, Any], *, deleted: bool = False) -> None:
    conn.execute(
        "insert into raw.confluence_pages (page_id, space_key, title, version_number,"
        " last_modified_at, is_deleted, deleted_at, payload, payload_hash, _batch_id)"
        " values (%s, %s, %s, %s, %s, %s, case when %s then now() end, %s, %s, %s)",
        (
            item["id"],
            item["space"]["key"],
            item["title"],
            item["version"]["number"],
            item["version"]["when"],
            deleted,
            deleted,
            Jsonb(item),
            _hash(item),
            BATCH_ID,
        ),
    )


def load_raw(database_url: str) -> None:
    """The whole fixture: the form, four tasks (one deleted) and three pages."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        form = form_payload()
        conn.execute(
            "insert into raw.pyrus_forms (form_id, payload, payload_hash, _batch_id)"
            " values (%s, %s, %s, %s)",
            (FORM_ID, Jsonb(form), _hash(form), BATCH_ID),
        )
        insert_task(conn, paid_ticket())
        insert_task(conn, open_ticket())
        insert_task(conn, messenger_ticket())
        insert_task(conn, deleted_ticket(), deleted=True)
        for item in confluence_items():
            insert_page(conn, item)
