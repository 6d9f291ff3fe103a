"""Weekly medians for the report's line plot, each resting on enough tickets.

A weekly median of a handful of tickets swings by hours (one slow ticket makes a
"spike"), so a week with fewer than `MIN_WEEKLY_TICKETS` answered tickets in an arm is
pooled with the weeks after it until the pool has enough; a thin tail at the end of the
series joins the pool before it. An arm with fewer tickets than that over the whole
period gets no point at all. The median of a pool is taken over its tickets, not over
the weekly medians.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from datetime import date

from assistant.effect.report_types import MIN_WEEKLY_TICKETS, WeeklyPoint


def pool_weeks(
    weeks: Sequence[tuple[date, Sequence[float]]], min_tickets: int = MIN_WEEKLY_TICKETS
) -> list[tuple[date, date, list[float]]]:
    """(first week, last week, values) pools of consecutive weeks, each ≥ `min_tickets`."""
    pools: list[tuple[date, date, list[float]]] = []
    first: date | None = None
    values: list[float] = []
    week: date | None = None
    for week, week_values in sorted(weeks, key=lambda item: item[0]):
        first = week if first is None else first
        values += week_values
        if len(values) >= min_tickets:
            pools.append((first, week, values))
            first, values = None, []
    if values and week is not None:  # a thin tail joins the pool before it, if there is one
        if not pools:
            return []
        start, _, pooled = pools.pop()
        pools.append((start, week, pooled + values))
    return pools


def weekly_points(
    rows: Iterable[tuple[date, str, Sequence[float]]], min_tickets: int = MIN_WEEKLY_TICKETS
) -> list[WeeklyPoint]:
    """Median per arm and pool of weeks, from (week, arm, first-response times) rows."""
    by_arm: dict[str, list[tuple[date, Sequence[float]]]] = {}
    for week, arm, values in rows:
        by_arm.setdefault(arm, []).append((week, values))
    points = []
    for arm, weeks in by_arm.items():
        for first, last, values in pool_weeks(weeks, min_tickets):
            points.append(
                WeeklyPoint(first, arm, float(statistics.median(values)), len(values), last)
            )
    return sorted(points, key=lambda p: (p.week, p.arm))
