"""Who writes when about what: one `TicketPlan` per historical ticket.

The planted effect lives here. Each arm's baseline first-response times (business
minutes) are stratified quantiles of one lognormal, so every arm's empirical
distribution matches the design and the treatment's 0.75 multiplier is recovered
almost exactly by a median comparison.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from statistics import NormalDist

from assistant.bot.arms import assign_arm
from sample_data.gen.calendar import MSK, add_business_minutes, is_workday
from sample_data.gen.content import Archetype
from sample_data.gen.people import Customer

START_DATE = date(2026, 2, 2)
ROLLOUT_DATE = date(2026, 8, 3)
DAY2_CUTOFF = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tue 18:00 MSK: the dataset's "now"
DAY1_CUTOFF = DAY2_CUTOFF - timedelta(hours=24)
HOLDOUT_SHARE = 0.2
TREATMENT_MULTIPLIER = 0.75
FRT_MEDIAN_BM = 95.0
FRT_SIGMA = 1.0
FRT_MIN_BM = 5.0
TICKETS_PER_WORKDAY = 5.6
FIRST_TASK_ID = 231004117

# Relative ticket volume by category (forms and routing dominate real Pyrus support).
CATEGORY_WEIGHTS = {
    "forms_fields": 14,
    "routing_approvals": 12,
    "access_roles": 12,
    "catalogs": 7,
    "integrations_api": 9,
    "bots_webhooks": 6,
    "email_notifications": 8,
    "mobile_app": 6,
    "reports_registers": 7,
    "licenses_billing": 5,
    "sso_ldap": 4,
    "outages_bugs": 6,
    "other": 4,
}
# Slower categories get longer first responses (rank offset before quantile assignment).
CATEGORY_FRT_OFFSET = {
    "integrations_api": 0.4,
    "bots_webhooks": 0.5,
    "sso_ldap": 0.3,
    "outages_bugs": -0.3,
    "licenses_billing": -0.2,
    "other": 0.2,
}
PRIORITY_WEIGHTS = {
    "*": [10, 62, 22, 6],
    "outages_bugs": [5, 40, 25, 30],
    "other": [35, 62, 3, 0],
}
PRIORITY_FRT_OFFSET = {"Низкий": 0.4, "Обычный": 0.0, "Высокий": -0.4, "Критический": -1.0}


@dataclass
class TicketPlan:
    """Everything decided about a ticket before its comment thread is written."""

    task_id: int
    created_at: datetime
    archetype: Archetype
    customer: Customer
    initial_category: str
    priority: str
    channel_type: str
    arm: str  # "pre_rollout" | "treatment" | "holdout"
    frt_bm: float = 0.0


def _arrival_times(rng: random.Random) -> list[datetime]:
    """Ticket creation moments: mostly working hours, some evenings and weekends."""
    moments = []
    day = START_DATE
    last_day = (DAY2_CUTOFF + MSK).date()
    while day <= last_day:
        rate = TICKETS_PER_WORKDAY if is_workday(day) else 0.6
        rate *= 1.0 + 0.15 * (day - START_DATE).days / 300  # the client base grows
        count = sum(1 for _ in range(40) if rng.random() < rate / 40)
        for _ in range(count):
            if is_workday(day):
                hour = min(max(rng.gauss(12.5, 3.0), 6.0), 23.9)
            else:
                hour = rng.uniform(9.0, 23.0)
            local = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hour)
            moment = (local - MSK).replace(microsecond=0)
            if moment < DAY2_CUTOFF:
                moments.append(moment)
        day += timedelta(days=1)
    # The day1 -> day2 window feeds the incremental-sync demo: keep it a normal busy day.
    in_window = sum(1 for m in moments if m > DAY1_CUTOFF)
    for _ in range(max(0, 7 - in_window)):
        offset = rng.uniform(15 * 60, 24 * 60 - 1)  # Tue 09:00-18:00 MSK mostly
        moments.append((DAY1_CUTOFF + timedelta(minutes=offset)).replace(microsecond=0))
    return sorted(moments)


def _weighted(rng: random.Random, items: list, weights: list[float]):
    return rng.choices(items, weights=weights, k=1)[0]


def plan_tickets(
    archetypes: list[Archetype],
    customers: list[tuple[Customer, float]],
    rng: random.Random,
) -> list[TicketPlan]:
    """Draw the ticket population in creation order with increasing task ids."""
    by_category: dict[str, list[Archetype]] = {}
    for arch in archetypes:
        by_category.setdefault(arch.category, []).append(arch)
    categories = sorted(by_category)
    cat_weights = [CATEGORY_WEIGHTS.get(c, 3) for c in categories]
    people = [c for c, _ in customers]
    people_w = [w for _, w in customers]
    plans = []
    task_id = FIRST_TASK_ID
    for created in _arrival_times(rng):
        task_id += rng.randint(40, 2400)
        category = _weighted(rng, categories, cat_weights)
        pool = by_category[category]
        arch = _weighted(rng, pool, [1.0 / (1 + 0.15 * i) for i in range(len(pool))])
        if rng.random() < 0.82:
            initial = category
        else:
            initial = rng.choice([c for c in categories if c != category] + ["other"] * 3)
            if initial == category:
                initial = "other" if category != "other" else "forms_fields"
        priority = _weighted(
            rng,
            ["Низкий", "Обычный", "Высокий", "Критический"],
            PRIORITY_WEIGHTS.get(category, PRIORITY_WEIGHTS["*"]),
        )
        if created.date() >= ROLLOUT_DATE:
            arm = assign_arm(task_id, HOLDOUT_SHARE)
        else:
            arm = "pre_rollout"
        plans.append(
            TicketPlan(
                task_id=task_id,
                created_at=created,
                archetype=arch,
                customer=_weighted(rng, people, people_w),
                initial_category=initial,
                priority=priority,
                channel_type="email" if rng.random() < 0.8 else "web_form",
                arm=arm,
            )
        )
    _assign_frt(plans, rng)
    return plans


def _assign_frt(plans: list[TicketPlan], rng: random.Random) -> None:
    """Stratified lognormal quantiles per arm; slower strata get the higher quantiles.

    Tickets whose first reply would fall after the dataset's "now" are censored (no reply
    yet). They are taken out of the stratified pool, so the quantiles are spread over the
    answered tickets only and each arm's observed median matches the design.
    """
    normal = NormalDist()
    for arm in ("pre_rollout", "holdout", "treatment"):
        group = [p for p in plans if p.arm == arm]
        noise = {p.task_id: rng.gauss(0.0, 1.0) for p in group}
        scored = sorted(
            group,
            key=lambda p: (
                CATEGORY_FRT_OFFSET.get(p.archetype.category, 0.0)
                + PRIORITY_FRT_OFFSET[p.priority]
                + noise[p.task_id],
                p.task_id,
            ),
        )
        factor = TREATMENT_MULTIPLIER if arm == "treatment" else 1.0
        censored: set[int] = set()
        for _ in range(10):
            pool = [p for p in scored if p.task_id not in censored]
            for index, plan in enumerate(pool):
                z = normal.inv_cdf((index + 0.5) / len(pool))
                baseline = max(FRT_MEDIAN_BM * math.exp(FRT_SIGMA * z), FRT_MIN_BM)
                plan.frt_bm = round(baseline * factor, 2)
            late = {
                p.task_id
                for p in pool
                if add_business_minutes(p.created_at, p.frt_bm) > DAY2_CUTOFF
            }
            if not late:
                break
            censored |= late
