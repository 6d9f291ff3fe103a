"""Thin weeks are pooled with their neighbours, so every weekly point rests on enough tickets."""

from __future__ import annotations

import statistics
from datetime import date, timedelta

import numpy as np
import pytest

from assistant.db import connect
from assistant.effect.report_data import load_weekly_medians
from assistant.effect.report_plots import plot_weekly
from assistant.effect.report_types import MIN_WEEKLY_TICKETS, WeeklyPoint
from assistant.effect.weekly import pool_weeks, weekly_points
from tests.effect.test_report import LABELS

N = MIN_WEEKLY_TICKETS
MONDAY = date(2026, 8, 3)


def _weeks(*sizes: int, seed: int = 1) -> list[tuple[date, list[float]]]:
    """Consecutive weeks with `sizes[i]` lognormal first-response times each."""
    rng = np.random.default_rng(seed)
    return [
        (MONDAY + timedelta(weeks=i), [float(v) for v in rng.lognormal(4.5, 0.8, size)])
        for i, size in enumerate(sizes)
    ]


def _spans(pools: list[tuple[date, date, list[float]]]) -> list[tuple[int, int, int]]:
    """(first week number, last week number, tickets) of each pool."""
    return [((a - MONDAY).days // 7, (b - MONDAY).days // 7, len(v)) for a, b, v in pools]


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        ((12, 15, 30), [(0, 0, 12), (1, 1, 15), (2, 2, 30)]),  # nothing thin: untouched
        ((3, 12, 15), [(0, 1, 15), (2, 2, 15)]),  # a thin week joins the next one
        ((3, 4, 5, 20), [(0, 2, 12), (3, 3, 20)]),  # several, until the pool has enough
        ((20, 15, 4), [(0, 0, 20), (1, 2, 19)]),  # a thin last week joins the one before
        ((20, 2, 3), [(0, 2, 25)]),  # a thin tail of two weeks too
        ((0, 12), [(0, 1, 12)]),
    ],
)
def test_pools_of_consecutive_weeks(sizes: tuple[int, ...], expected: list[tuple]) -> None:
    weeks = _weeks(*sizes)
    pools = pool_weeks(weeks, N)
    assert _spans(pools) == expected
    assert all(len(values) >= N for _, _, values in pools)
    # every ticket is in exactly one pool, in week order
    assert [v for _, _, values in pools for v in values] == [v for _, w in weeks for v in w]


def test_an_arm_thinner_than_the_minimum_overall_gets_no_point() -> None:
    assert pool_weeks(_weeks(3, 2, 4), N) == []
    assert pool_weeks([], N) == []


def test_points_take_the_median_of_the_pooled_tickets() -> None:
    treatment, holdout = _weeks(14, 11, 13, seed=2), _weeks(4, 3, 9, 2, seed=3)
    rows = [(week, "treatment", values) for week, values in treatment]
    rows += [(week, "holdout", values) for week, values in holdout]
    points = weekly_points(rows, N)
    by_arm = {arm: [p for p in points if p.arm == arm] for arm in ("treatment", "holdout")}
    assert [p.pooled for p in by_arm["treatment"]] == [False, False, False]
    # 4 + 3 + 9 reach the minimum in the third week; the thin last week joins that pool
    (pooled,) = by_arm["holdout"]
    assert pooled.tickets == sum(len(values) for _, values in holdout)
    everything = [v for _, values in holdout for v in values]
    assert pooled.median_frt_bm == statistics.median(everything)
    assert (pooled.week, pooled.last_week) == (holdout[0][0], holdout[-1][0])
    assert pooled.middle == holdout[0][0] + (holdout[-1][0] - holdout[0][0]) / 2
    assert all(p.tickets >= N for p in points)


def test_the_plot_renders_pooled_points() -> None:
    rows = [(week, "holdout", values) for week, values in _weeks(4, 3, 9, 12, seed=4)]
    image = plot_weekly(weekly_points(rows, N), LABELS)
    assert image.startswith("data:image/png;base64,")


@pytest.mark.db
def test_the_loader_pools_tickets_from_the_mart(database_url: str) -> None:
    """`marts.fct_tickets` rows → pooled medians equal to those computed here."""
    with connect(database_url, autocommit=True) as conn:
        conn.execute("create schema if not exists marts")
        conn.execute(
            "create table marts.fct_tickets (ticket_id bigint, created_week_msk date,"
            " assignment_arm text, frt_bm numeric)"
        )
        weeks = {"treatment": _weeks(15, 12, 11, seed=5), "holdout": _weeks(6, 5, 2, 3, seed=6)}
        ticket = 0
        for arm, series in weeks.items():
            for week, values in series:
                for value in values:
                    ticket += 1
                    conn.execute(
                        "insert into marts.fct_tickets values (%s, %s, %s, %s)",
                        (ticket, week, arm, round(value, 3)),
                    )
        conn.execute("insert into marts.fct_tickets values (0, %s, 'holdout', null)", (MONDAY,))

        points = load_weekly_medians(conn)

        expected = weekly_points(
            [
                (week, arm, [round(v, 3) for v in values])
                for arm, series in weeks.items()
                for week, values in series
            ],
            N,
        )
        assert [(p.week, p.last_week, p.arm, p.tickets) for p in points] == [
            (p.week, p.last_week, p.arm, p.tickets) for p in expected
        ]
        for got, want in zip(points, expected, strict=True):
            assert got.median_frt_bm == pytest.approx(want.median_frt_bm, abs=1e-9)
        holdout = [p for p in points if p.arm == "holdout"]
        # 6 + 5 close a pool after the second week; the thin tail (2 + 3) joins it
        assert [(p.week, p.last_week, p.tickets) for p in holdout] == [
            (MONDAY, MONDAY + timedelta(weeks=3), 16)
        ]
        assert [p.pooled for p in points if p.arm == "treatment"] == [False, False, False]


def test_a_point_of_one_week_is_not_pooled() -> None:
    point = WeeklyPoint(MONDAY, "treatment", 70.0, 12)
    assert not point.pooled
    assert point.middle == MONDAY
