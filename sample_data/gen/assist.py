"""How staff used the assistant's draft on treatment tickets.

The draft is posted before the first reply; staff then send it as is, edit it, or write
their own answer. The "Помог ли ИИ-помощник" feedback agrees with that choice, so the
draft-vs-sent similarity metrics and the feedback field tell one consistent story.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sample_data.gen.content import render
from sample_data.gen.form import FEEDBACK, choice_value, value_field
from sample_data.gen.people import Staff
from sample_data.gen.plan import TicketPlan
from sample_data.gen.thread import ThreadContext, answer_body, staff_reply_text

USAGE_WEIGHTS = {"as_is": 45, "edited": 35, "ignored": 20}
FEEDBACK_BY_USAGE = {
    "as_is": {"да": 80, "частично": 20, "нет": 0},
    "edited": {"да": 40, "частично": 60, "нет": 0},
    "ignored": {"да": 0, "частично": 20, "нет": 80},
}
FEEDBACK_SHARE = 0.6


@dataclass(frozen=True)
class Reply:
    """The staff's answer to the customer and the draft the assistant offered (if any)."""

    body: str  # the fix as sent (goes into the eval corpus)
    text: str  # the full public reply
    draft: str | None
    usage: str | None


def draft_text(ctx: ThreadContext, plan: TicketPlan, slots: dict[str, str]) -> str:
    """The assistant's draft: the archetype's fix in a plain greeting/closing frame."""
    return "\n\n".join(
        [
            f"Здравствуйте, {plan.customer.first_name}!",
            render(plan.archetype.answer, slots),
            "Если вопрос останется — ответьте на это сообщение, разберёмся.",
        ]
    )


def _own_answer(ctx: ThreadContext, plan: TicketPlan, slots: dict[str, str]) -> str:
    """A staff member's own, shorter wording: the cause and the first step only."""
    lines = render(plan.archetype.answer, slots).splitlines()
    first_step = next((ln[2:].strip() for ln in lines if ln.startswith("1.")), "")
    parts = [lines[0]]
    if first_step:
        parts.append(f"Самое быстрое — {first_step[0].lower()}{first_step[1:]}")
    parts.append("Если удобнее, созвонимся и настроим вместе.")
    return "\n".join(parts)


def staff_reply(ctx: ThreadContext, plan: TicketPlan, agent: Staff, slots: dict[str, str]) -> Reply:
    """Decide how the answer is written; treatment tickets start from the draft."""
    rng = ctx.rng
    if plan.arm != "treatment":
        body = answer_body(ctx, plan, slots)
        return Reply(body, staff_reply_text(ctx, plan, agent, body), None, None)
    draft = draft_text(ctx, plan, slots)
    usage = rng.choices(list(USAGE_WEIGHTS), weights=list(USAGE_WEIGHTS.values()), k=1)[0]
    if usage == "as_is":
        body = render(plan.archetype.answer, slots)
        text = f"{draft}\n\n{agent.person['first_name']}, служба поддержки Pyrus"
    elif usage == "edited":
        body = answer_body(ctx, plan, slots)
        text = staff_reply_text(ctx, plan, agent, body)
    else:
        body = _own_answer(ctx, plan, slots)
        text = staff_reply_text(ctx, plan, agent, body)
    return Reply(body, text, draft, usage)


def feedback_updates(rng: random.Random, usage: str | None) -> list[dict] | None:
    """The feedback field on some treatment tickets, consistent with how the draft was used."""
    if usage is None or rng.random() >= FEEDBACK_SHARE:
        return None
    weights = FEEDBACK_BY_USAGE[usage]
    choice = rng.choices(list(weights), weights=list(weights.values()), k=1)[0]
    return [value_field("assistant_feedback", choice_value(FEEDBACK.index(choice) + 1, choice))]
