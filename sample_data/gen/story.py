"""The course of one ticket: first reply, clarifying round, notes, close, reopen.

Staff actions are placed with business-time delays, customer actions with calendar
delays. The first staff public reply lands exactly `plan.frt_bm` business minutes after
creation, which is what makes the planted effect measurable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sample_data.gen.assist import feedback_updates, staff_reply
from sample_data.gen.calendar import add_business_minutes
from sample_data.gen.content import render
from sample_data.gen.form import choice_value, value_field
from sample_data.gen.people import BOT_PERSON, Staff
from sample_data.gen.plan import TicketPlan
from sample_data.gen.thread import (
    Event,
    ThreadContext,
    bot_text,
    clarify_reply,
    customer_channel,
    first_message,
    initial_fields,
    later,
    second_line,
    staff_channel,
    staff_reply_text,
    ticket_slots,
    work_later,
)

ESCALATION_REPLY = (
    "Мы воспроизвели ситуацию и передали её инженерам второй линии. Вернёмся с ответом "
    "в течение рабочего дня; сроки исправления пока назвать не можем."
)


@dataclass
class Story:
    """A ticket's events plus facts the eval sets need."""

    plan: TicketPlan
    responsible: Staff
    subject: str
    description: str
    resolution: str
    has_pii: bool
    events: list[Event]
    reopened: bool


def _pick_staff(ctx: ThreadContext, at: datetime) -> Staff:
    active = [s for s in ctx.staff if s.active_at(at)]
    return ctx.rng.choices(active, weights=[s.weight for s in active], k=1)[0]


def _after(moment: datetime, previous: datetime) -> datetime:
    """Keep a thread strictly ordered: at least 30 s after the previous event."""
    return max(moment, previous + timedelta(seconds=30))


def build_story(ctx: ThreadContext, plan: TicketPlan, stuck: bool) -> Story:
    """Write the full (untruncated) thread; the caller drops events after the cutoff."""
    rng = ctx.rng
    arch = plan.archetype
    slots = ticket_slots(ctx, plan)
    subject, description, opening, has_pii = first_message(ctx, plan, slots)
    agent = _pick_staff(ctx, plan.created_at)
    customer = plan.customer.person
    events = [
        Event(
            at=plan.created_at,
            author=customer,
            text=opening,
            channel=customer_channel(plan),
            field_updates=initial_fields(ctx, plan, subject, description),
        )
    ]
    reply = staff_reply(ctx, plan, agent, slots)
    if plan.arm == "treatment":
        bot_at = plan.created_at + timedelta(seconds=rng.randint(60, 120))
        events.append(
            Event(
                at=bot_at,
                author=BOT_PERSON,
                text=bot_text(ctx, plan, slots),
                field_updates=[value_field("draft_reply", reply.draft)],
            )
        )
    first_reply_at = add_business_minutes(plan.created_at, plan.frt_bm).replace(microsecond=0)
    first_reply_at = max(first_reply_at, events[-1].at + timedelta(seconds=1))
    clarify = rng.random() < 0.3
    if rng.random() < 0.35:
        note_at = first_reply_at - timedelta(minutes=rng.uniform(1, min(plan.frt_bm, 20) * 0.8))
        if note_at > events[-1].at:
            note = (
                render(arch.note, slots)
                if rng.random() < 0.7
                else rng.choice(ctx.common["internal_generic"])
            )
            events.append(Event(at=note_at.replace(microsecond=0), author=agent.person, text=note))
    if clarify:
        events.append(
            Event(
                at=first_reply_at,
                author=agent.person,
                text=staff_reply_text(ctx, plan, agent, render(arch.clarify, slots), question=True),
                channel=staff_channel(plan),
                reply_to=0,
                spent_minutes=rng.randint(2, 10),
            )
        )
        customer_reply = clarify_reply(ctx, plan, slots)
        events.append(
            Event(
                at=later(first_reply_at, rng, 150),
                author=customer,
                text=customer_reply,
                channel=customer_channel(plan),
            )
        )
        answer_at = _after(work_later(events[-1].at, rng, 50), events[-1].at)
    else:
        answer_at = first_reply_at
    if stuck:
        if not clarify:
            events.append(
                Event(
                    at=first_reply_at,
                    author=agent.person,
                    text=staff_reply_text(ctx, plan, agent, ESCALATION_REPLY),
                    channel=staff_channel(plan),
                    reply_to=0,
                    spent_minutes=rng.randint(5, 20),
                )
            )
        helper = second_line(ctx, answer_at)
        events.append(
            Event(
                at=_after(answer_at, events[-1].at),
                author=agent.person,
                text=f"{helper.person['first_name']} {helper.person['last_name']}, посмотри, "
                "пожалуйста: " + render(rng.choice(ctx.common["escalation_notes"]), slots),
                mentions=[helper.person],
            )
        )
        _category_and_priority_fixes(ctx, plan, agent, events, first_reply_at)
        events.sort(key=lambda e: e.at)
        return Story(plan, agent, subject, description, "", has_pii, events, False)
    # Reply-and-close in one comment only when no field fix would have to follow it.
    answer_and_close = rng.random() < 0.1 and plan.initial_category == arch.category
    answer_event = Event(
        at=_after(answer_at, events[-1].at),
        author=agent.person,
        text=reply.text,
        channel=staff_channel(plan),
        reply_to=0,
        spent_minutes=rng.randint(5, 40),
        action="finished" if answer_and_close else None,
    )
    events.append(answer_event)
    if not answer_and_close:
        _category_and_priority_fixes(ctx, plan, agent, events, first_reply_at)
    events.sort(key=lambda e: e.at)
    if not answer_and_close:
        _close(ctx, plan, agent, events, reply.usage)
    else:
        answer_event.field_updates = feedback_updates(rng, reply.usage)
    reopened = False
    if rng.random() < 0.05:
        reopened = True
        _reopen(ctx, plan, agent, events, render(arch.answer, slots))
    return Story(plan, agent, subject, description, reply.body, has_pii, events, reopened)


def _category_and_priority_fixes(
    ctx: ThreadContext, plan: TicketPlan, agent: Staff, events: list[Event], near: datetime
) -> None:
    """Staff correct a wrong initial category (and sometimes the priority) via a note."""
    rng = ctx.rng
    updates = []
    text = None
    if plan.initial_category != plan.archetype.category:
        cat_id, cat = ctx.category(plan.archetype.category)
        _, old = ctx.category(plan.initial_category)
        updates.append(value_field("category", choice_value(cat_id, cat.name_ru)))
        template = rng.choice(ctx.common["category_change_notes"])
        text = render(
            template, {"category": cat.name_ru, "old_category_lower": old.name_ru.lower()}
        )
    if rng.random() < 0.06 and plan.priority != "Высокий":
        updates.append(value_field("priority", choice_value(3, "Высокий")))
    if updates:
        at = work_later(near, rng, 25)
        events.append(Event(at=at, author=agent.person, text=text or None, field_updates=updates))


def _close(
    ctx: ThreadContext, plan: TicketPlan, agent: Staff, events: list[Event], usage: str | None
) -> None:
    rng = ctx.rng
    last = events[-1].at
    feedback = feedback_updates(rng, usage)
    if rng.random() < 0.7:
        thanks_at = later(last, rng, 120)
        events.append(
            Event(
                at=thanks_at,
                author=plan.customer.person,
                text=rng.choice(ctx.common["customer_thanks"]),
                channel=customer_channel(plan),
            )
        )
        close_text = rng.choice(ctx.common["staff_close_after_thanks"]) or None
        close_at = _after(work_later(thanks_at, rng, 20), thanks_at)
    else:
        close_text = rng.choice(ctx.common["staff_close_no_reply"])
        close_at = add_business_minutes(last, 2 * 540 + rng.uniform(0, 300)).replace(microsecond=0)
    events.append(
        Event(
            at=close_at,
            author=agent.person,
            text=close_text,
            action="finished",
            spent_minutes=rng.randint(1, 15),
            field_updates=feedback,
        )
    )


def _reopen(
    ctx: ThreadContext, plan: TicketPlan, agent: Staff, events: list[Event], answer: str
) -> None:
    """The customer writes again within a week; the task reopens and is solved again."""
    rng = ctx.rng
    closed_at = events[-1].at
    reopen_at = (closed_at + timedelta(hours=rng.uniform(3, 6 * 24))).replace(microsecond=0)
    events.append(
        Event(
            at=reopen_at,
            author=plan.customer.person,
            action="reopened",
            text=rng.choice(ctx.common["customer_reopen"]),
            channel=customer_channel(plan),
        )
    )
    first_step = next((ln for ln in answer.splitlines() if ln.startswith("1.")), "")
    short = first_step[2:].strip() or answer.splitlines()[0]
    short = short[0].lower() + short[1:]
    follow = render(
        rng.choice(ctx.common["staff_reopen_followup"]),
        {"first_name": plan.customer.first_name, "answer_short": short},
    )
    follow_at = _after(work_later(reopen_at, rng, 60), reopen_at)
    events.append(
        Event(
            at=follow_at,
            author=agent.person,
            text=follow,
            channel=staff_channel(plan),
            spent_minutes=rng.randint(5, 30),
        )
    )
    close_at = _after(work_later(follow_at, rng, 240), follow_at)
    events.append(
        Event(
            at=close_at,
            author=agent.person,
            action="finished",
            text="Закрываю, если повторится — пишите.",
            spent_minutes=rng.randint(1, 10),
        )
    )
