"""The comment thread of one ticket: customer messages, staff replies, notes, bot post.

Events are produced in time order with symbolic references (`reply_to` = index of an
earlier event); `tasks.py` later assigns global comment ids and serialises them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sample_data.gen.calendar import add_business_minutes
from sample_data.gen.content import Category, ContentError, render
from sample_data.gen.form import PRIORITIES, choice_value, value_field
from sample_data.gen.people import SECOND_LINE_IDS, SUPPORT_MAILBOX, Staff
from sample_data.gen.plan import TicketPlan


@dataclass
class Event:
    """One future comment."""

    at: datetime
    author: dict[str, Any]
    text: str | None = None
    channel: dict[str, Any] | None = None
    field_updates: list[dict[str, Any]] | None = None
    action: str | None = None
    spent_minutes: int | None = None
    reply_to: int | None = None
    mentions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ThreadContext:
    """Inputs shared by all threads."""

    common: dict[str, Any]
    categories: list[Category]
    staff: list[Staff]
    rng: random.Random
    similar: dict[str, list[int]]  # archetype key -> earlier task ids
    sources: dict[str, list[tuple[datetime, str]]]  # archetype -> (page created, title)

    def category(self, code: str) -> tuple[int, Category]:
        for index, cat in enumerate(self.categories, start=1):
            if cat.code == code:
                return index, cat
        raise KeyError(code)


def _lognormal_minutes(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(sigma * rng.gauss(0.0, 1.0))


def _pii(ctx: ThreadContext, plan: TicketPlan) -> str:
    rng = ctx.rng
    slots = {
        "phone": f"+7 9{rng.randint(10, 99)} {rng.randint(100, 999)}-{rng.randint(10, 99)}-"
        f"{rng.randint(10, 99)}",
        "contract": f"{rng.choice([2023, 2024, 2025])}-ПР-{rng.randint(1, 999):04d}",
        "card": "4276 " + " ".join(f"{rng.randint(0, 9999):04d}" for _ in range(3)),
        "email": f"{plan.customer.person['email'].split('@')[0]}{rng.randint(70, 99)}@mail.ru",
        "first_name": plan.customer.first_name,
    }
    return render(rng.choice(ctx.common["pii_lines"]), slots)


def ticket_slots(ctx: ThreadContext, plan: TicketPlan) -> dict[str, str]:
    """Slot values that make one ticket's texts specific (form, field, ids, names)."""
    rng = ctx.rng
    forms = ctx.common["forms"]
    if plan.archetype.forms:
        forms = [f for f in forms if f["name"] in plan.archetype.forms]
        if not forms:
            raise ContentError(f"{plan.archetype.key}: none of its forms is in common.yaml")
    form = rng.choice(forms)
    female = rng.random() < 0.5
    colleague_first = rng.choice(ctx.common["first_names_female" if female else "first_names_male"])
    colleague_last = rng.choice(ctx.common["last_names_male"]) + ("а" if female else "")
    return {
        "form": form["name"],
        "field": rng.choice(form["fields"]),
        "task": str(rng.randint(180_000_000, 230_000_000)),
        "num": str(rng.randint(1000, 9999)),
        "person": f"{colleague_first} {colleague_last}",
        "org": plan.customer.org,
        "first_name": plan.customer.first_name,
        "org_domain": plan.customer.person["email"].split("@")[1],
        "contract": f"{rng.choice([2023, 2024, 2025])}-ПР-{rng.randint(1, 999):04d}",
    }


def first_message(
    ctx: ThreadContext, plan: TicketPlan, slots: dict[str, str]
) -> tuple[str, str, str, bool]:
    """(subject, description field, e-mail text, has personal data) of the opening message."""
    rng = ctx.rng
    arch = plan.archetype
    subject = render(rng.choice(arch.subjects), slots)
    body = [render(rng.choice(arch.messages), slots)]
    if rng.random() < 0.45 and arch.category != "other":
        body.append(render(rng.choice(ctx.common["context_lines"]), slots))
    if rng.random() < 0.3:
        body.append(rng.choice(ctx.common["attachment_lines"]))
    urgent = rng.random() < 0.15 or plan.priority == "Критический"
    if urgent and arch.category != "other":
        body.append(rng.choice(ctx.common["urgency_lines"]))
    has_pii = rng.random() < 0.12
    if has_pii:
        body.append(_pii(ctx, plan))
    description = " ".join(body)
    greeting = rng.choice(ctx.common["greetings"])
    signoff = rng.choice(ctx.common["signoffs"])
    person = plan.customer.person
    signature = f"{person['first_name']} {person['last_name']}, {plan.customer.org}"
    text = "\n\n".join(p for p in (greeting, description, signoff, signature) if p)
    return subject, description, text, has_pii


def answer_body(ctx: ThreadContext, plan: TicketPlan, slots: dict[str, str]) -> str:
    """The fix for this ticket: an optional opening, the archetype's answer, a help link."""
    rng = ctx.rng
    parts = []
    intro = render(rng.choice(ctx.common["answer_intros"]), slots)
    if intro:
        parts.append(intro)
    parts.append(render(plan.archetype.answer, slots))
    link = ctx.common["help_links"].get(plan.archetype.category)
    if link and rng.random() < 0.5:
        parts.append(f"Подробнее в справке: {link}")
    return "\n\n".join(parts)


def clarify_reply(ctx: ThreadContext, plan: TicketPlan, slots: dict[str, str]) -> str:
    """The customer's answer to a clarifying question (category-specific when written)."""
    pool = ctx.common["clarify_replies"].get(plan.archetype.category)
    if not pool or ctx.rng.random() < 0.25:
        pool = ctx.common["clarify_replies_generic"]
    return render(ctx.rng.choice(pool), slots)


def staff_reply_text(
    ctx: ThreadContext, plan: TicketPlan, staff: Staff, body: str, *, question: bool = False
) -> str:
    """A public reply in the house tone: greeting, acknowledgement, the fix, sign-off.

    A clarifying question skips the "if the problem stays, write back" closing line.
    """
    rng = ctx.rng
    parts = [f"Здравствуйте, {plan.customer.first_name}!"]
    ack = rng.choice(ctx.common["staff_ack"])
    if ack:
        parts.append(ack)
    parts.append(body)
    if not question:
        parts.append(rng.choice(ctx.common["staff_closing"]))
    parts.append(f"{staff.person['first_name']}, служба поддержки Pyrus")
    return "\n\n".join(parts)


def bot_text(ctx: ThreadContext, plan: TicketPlan, slots: dict[str, str]) -> str:
    """The assistant's internal recommendation for the employee."""
    arch = plan.archetype
    steps = [line for line in render(arch.answer, slots).splitlines() if line[:2] in {"1.", "2."}]
    summary = arch.summary[0].lower() + arch.summary[1:]
    lines = [f"Рекомендация ИИ-помощника: похоже на типовую ситуацию — {summary}."]
    if steps:
        lines.append("Что проверить:\n" + "\n".join(steps))
    similar = ctx.similar.get(arch.key, [])[-2:]
    if similar:
        lines.append("Похожие обращения: " + ", ".join(f"#{tid}" for tid in similar))
    titles = [
        title for created, title in ctx.sources.get(arch.key, []) if created < plan.created_at
    ]
    titles = titles[:2]
    if titles:
        lines.append("Источники: " + "; ".join(f"«{t}»" for t in titles))
    lines.append("Черновик ответа клиенту — в поле «Черновик ответа».")
    return "\n\n".join(lines)


def customer_channel(plan: TicketPlan) -> dict[str, Any]:
    person = plan.customer.person
    name = f"{person['first_name']} {person['last_name']}"
    return {"type": plan.channel_type, "from": {"email": person["email"], "name": name}}


def staff_channel(plan: TicketPlan) -> dict[str, Any]:
    person = plan.customer.person
    name = f"{person['first_name']} {person['last_name']}"
    return {
        "type": plan.channel_type,
        "to": {"email": person["email"], "name": name},
        "from": dict(SUPPORT_MAILBOX),
    }


def initial_fields(ctx: ThreadContext, plan: TicketPlan, subject: str, description: str) -> list:
    """Every initial field value, carried by the first comment (the replay contract)."""
    cat_id, cat = ctx.category(plan.initial_category)
    prio_id = PRIORITIES.index(plan.priority) + 1
    return [
        value_field("subject", subject),
        value_field("description", description),
        value_field("category", choice_value(cat_id, cat.name_ru)),
        value_field("client", plan.customer.org),
        value_field("client_email", plan.customer.person["email"]),
        value_field("priority", choice_value(prio_id, plan.priority)),
    ]


def later(moment: datetime, rng: random.Random, median_minutes: float) -> datetime:
    """A calendar-time delay (customers answer whenever they like)."""
    minutes = max(_lognormal_minutes(rng, median_minutes, 0.9), 3.0)
    return (moment + timedelta(minutes=minutes)).replace(microsecond=0)


def work_later(moment: datetime, rng: random.Random, median_minutes: float) -> datetime:
    """A business-time delay (staff act in working hours)."""
    minutes = max(_lognormal_minutes(rng, median_minutes, 0.8), 2.0)
    return add_business_minutes(moment, minutes).replace(microsecond=0)


def second_line(ctx: ThreadContext, at: datetime) -> Staff:
    return ctx.rng.choice([s for s in ctx.staff if s.person["id"] in SECOND_LINE_IDS])
