"""The effect step: estimates from the ticket mart into kb.effect_estimates, atomically."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import psycopg
import pytest

from assistant.bot.arms import assign_arm
from assistant.effect.data import EffectDataMissing, replace_estimates, rollout_start
from assistant.effect.report_data import load_effect_rows
from assistant.effect.stats import Estimate
from flows.effect import estimate_effects

pytestmark = pytest.mark.db

PLANTED = -0.30


def _fill_ticket_mart(url: str) -> None:
    """A small marts.fct_tickets with the columns the effect step reads."""
    rng = np.random.default_rng(7)
    rows = []
    start = date(2026, 5, 4)
    for i in range(1600):
        ticket_id = 500_000 + i
        post = i >= 800
        arm = assign_arm(ticket_id, 0.2) if post else "pre_rollout"
        category = "sso_ldap" if rng.random() < 0.4 else "catalogs"
        frt = {"sso_ldap": 150.0, "catalogs": 60.0}[category] * float(np.exp(rng.normal(0, 0.7)))
        if arm == "treatment":
            frt *= 1 + PLANTED
        week = start + timedelta(days=7 * (i // 100))
        rows.append((ticket_id, arm, category, frt, frt * 4, True, week))
    with psycopg.connect(url) as conn:
        conn.execute("create schema if not exists marts")
        conn.execute("drop table if exists marts.fct_tickets")
        conn.execute(
            "create table marts.fct_tickets (ticket_id bigint, assignment_arm text,"
            " category_code_at_creation text, frt_bm numeric, full_resolution_bm numeric,"
            " is_mature_14d boolean, created_week_msk date)"
        )
        with conn.cursor() as cursor:
            cursor.executemany(
                "insert into marts.fct_tickets values (%s, %s, %s, %s, %s, %s, %s)", rows
            )


def test_missing_mart_is_a_clear_error(database_url: str) -> None:
    with pytest.raises(EffectDataMissing, match=r"marts\.fct_tickets"):
        estimate_effects(database_url, holdout_share=0.2, n_boot=50)


def test_estimates_recover_a_planted_effect_and_replace_the_table(database_url: str) -> None:
    _fill_ticket_mart(database_url)
    first = estimate_effects(database_url, holdout_share=0.2, n_boot=300)
    assert first["frt_bm_ci95_low"] < PLANTED < first["frt_bm_ci95_high"]
    assert abs(first["frt_bm_rel_change"] - PLANTED) < 0.1
    second = estimate_effects(database_url, holdout_share=0.2, n_boot=300)
    with psycopg.connect(database_url) as conn:
        runs = conn.execute("select count(distinct run_id), count(*) from kb.effect_estimates")
        n_runs, n_rows = runs.fetchone()  # type: ignore[misc]
        rows = load_effect_rows(conn)
    assert n_runs == 1
    assert n_rows == second["estimates"] == len(rows)
    assert rows[0].segment == "ALL"
    did = [r for r in rows if r.comparison == "post_vs_pre" and r.metric == "frt_bm"]
    assert did
    assert did[0].ci95_low < PLANTED < did[0].ci95_high  # type: ignore[operator]


def test_replace_is_atomic_on_bad_rows(database_url: str) -> None:
    good = Estimate("frt_bm", "ALL", "treatment_vs_holdout", "m", 10, 40, 1, 1, 0, -1, 1, 0.5)
    bad = Estimate("frt_bm", "ALL", "treatment_vs_holdout", "m", 10, 40, 1, 1, 0, -1, 1, 0.5)
    with psycopg.connect(database_url) as conn:
        replace_estimates(conn, [good])
        conn.commit()
        with pytest.raises(psycopg.errors.UniqueViolation):
            replace_estimates(conn, [good, bad])
        conn.rollback()
        assert len(load_effect_rows(conn)) == 1


def test_rollout_start_reads_the_seed(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        assert rollout_start(conn) == datetime(2026, 8, 2, 21, 0, tzinfo=UTC)
