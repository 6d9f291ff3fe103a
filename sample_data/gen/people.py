"""Support staff, the assistant bot and customer contacts of the sample organisation."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

DEPARTMENT_ID = 40112
DEPARTMENT_NAME = "Служба поддержки"
SUPPORT_MAILBOX = {"email": "support@help.pyrus-demo.ru", "name": "Служба поддержки Pyrus"}
BOT_ID = 1190500
BOT_PERSON: dict[str, Any] = {
    "id": BOT_ID,
    "first_name": "ИИ-помощник",
    "last_name": "",
    "email": "bot@6b1e2f94-3c7a-4d15-9e2b-8a4c0d7f5e31",
    "type": "bot",
}

# (id, first, last, email local part, position, weight, active_until)
_STAFF = (
    (1190101, "Марина", "Соколова", "m.sokolova", "Специалист поддержки", 5, None),
    (1190102, "Игорь", "Белов", "i.belov", "Инженер второй линии", 2, None),
    (1190103, "Ольга", "Никитина", "o.nikitina", "Специалист поддержки", 5, None),
    (1190104, "Денис", "Громов", "d.gromov", "Специалист поддержки", 4, None),
    (1190105, "Анастасия", "Ершова", "a.ershova", "Специалист поддержки", 4, None),
    (1190106, "Константин", "Лавров", "k.lavrov", "Руководитель поддержки", 1, None),
    (1190107, "Екатерина", "Шубина", "e.shubina", "Специалист поддержки", 3, None),
    (1190108, "Павел", "Кравцов", "p.kravtsov", "Инженер второй линии", 2, None),
    (1190109, "Виталий", "Рыбин", "v.rybin", "Специалист поддержки", 4, "2026-05-15"),
)
SECOND_LINE_IDS = (1190102, 1190108)
LEAD_ID = 1190106


@dataclass(frozen=True)
class Staff:
    """A support employee; `active_until` marks someone who left (fired in /members)."""

    person: dict[str, Any]
    weight: int
    active_until: datetime | None

    def active_at(self, moment: datetime) -> bool:
        return self.active_until is None or moment < self.active_until


def staff() -> list[Staff]:
    """The support team in a stable order."""
    result = []
    for pid, first, last, local, position, weight, until in _STAFF:
        person = {
            "id": pid,
            "first_name": first,
            "last_name": last,
            "email": f"{local}@help.pyrus-demo.ru",
            "type": "user",
            "department_id": DEPARTMENT_ID,
            "department_name": DEPARTMENT_NAME,
            "position": position,
        }
        ends = datetime.fromisoformat(until).replace(tzinfo=UTC) if until else None
        result.append(Staff(person, weight, ends))
    return result


def members_response() -> dict[str, Any]:
    """GET /members: staff (the one who left is banned/fired) and the assistant bot."""
    members = []
    for member in staff():
        person = dict(member.person)
        person["banned"] = member.active_until is not None
        if member.active_until is not None:
            person["fired"] = True
        members.append(person)
    members.append({**BOT_PERSON, "banned": False})
    return {"members": members}


_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        [
            "a",
            "b",
            "v",
            "g",
            "d",
            "e",
            "e",
            "zh",
            "z",
            "i",
            "y",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "kh",
            "ts",
            "ch",
            "sh",
            "sch",
            "_",
            "y",
            "_",
            "e",
            "yu",
            "ya",
        ],
        strict=True,
    )
)


def translit(text: str) -> str:
    """Latin spelling of a Russian name for e-mail addresses."""
    out = "".join(_TRANSLIT.get(ch, ch) for ch in text.lower())
    return out.replace("_", "")


@dataclass(frozen=True)
class Customer:
    """A client contact writing to support (a Pyrus user of the client's organisation)."""

    person: dict[str, Any]
    org: str
    first_name: str


def customers(common: dict[str, Any], rng: random.Random) -> list[tuple[Customer, float]]:
    """Client contacts with a per-contact ticket weight (big clients write more)."""
    result: list[tuple[Customer, float]] = []
    next_id = 1250001
    orgs = list(zip(common["client_orgs"], common["client_domains"], strict=True))
    for index, (org, domain) in enumerate(orgs):
        org_weight = 1.0 / (1 + index % 7)
        for _ in range(rng.randint(2, 7)):
            female = rng.random() < 0.55
            first = rng.choice(common["first_names_female" if female else "first_names_male"])
            last = rng.choice(common["last_names_male"]) + ("а" if female else "")
            email = f"{translit(first)[0]}.{translit(last)}@{domain}"
            person = {
                "id": next_id,
                "first_name": first,
                "last_name": last,
                "email": email,
                "type": "user",
            }
            next_id += rng.randint(1, 40)
            result.append((Customer(person, org, first), org_weight * rng.uniform(0.3, 1.0)))
    return result
