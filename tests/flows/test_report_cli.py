"""`kb report effect --out report.html` writes one self-contained page with plots and numbers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from assistant.effect.data import replace_estimates
from assistant.effect.stats import Estimate
from flows.cli import app

pytestmark = pytest.mark.db

runner = CliRunner()


def _marts(url: str) -> None:
    """The three marts the report reads, as small tables with their real column names."""
    weeks = [date(2026, 9, 7) + timedelta(days=7 * i) for i in range(3)]
    with psycopg.connect(url) as conn:
        conn.execute("create schema if not exists marts")
        conn.execute(
            "create table marts.fct_tickets (ticket_id bigint, created_week_msk date,"
            " created_date_msk date, assignment_arm text, frt_bm numeric)"
        )
        conn.execute(
            "create table marts.fct_assistant_suggestions (ticket_id bigint, arm text,"
            " usage_class text, agent_feedback text, created_week_msk date)"
        )
        conn.execute(
            "create table marts.effect_arm_comparison (segment text, comparison text,"
            " metric text, statistic text, n_control bigint, n_treated bigint,"
            " control_value float8, treated_value float8)"
        )
        conn.execute(
            "insert into marts.effect_arm_comparison values"
            " ('ALL', 'treatment_vs_holdout', 'reopen_rate_7d', 'rate', 80, 416, 0.075, 0.0553)"
        )
        conn.execute(
            "create table marts.kb_gaps (week_start_msk date, category_code text,"
            " tickets_without_good_match bigint)"
        )
        conn.execute(
            "create table marts.kb_gap_documents (document_id text, title text, url text,"
            " tickets_missed bigint, category_codes text[], gap_rank bigint)"
        )
        conn.execute(
            "insert into marts.kb_gap_documents values ('confluence:1', 'Вход через SSO',"
            " 'https://kb.example.ru/1', 4, array['sso_ldap'], 1)"
        )
        ticket = 0
        for week in weeks:  # 6 treatment and 4 holdout tickets a week: thin weeks get pooled
            for arm, frt in [("treatment", 70), ("holdout", 95), ("treatment", 75)] * 2 + [
                ("treatment", 72),
                ("treatment", 73),
                ("holdout", 96),
                ("holdout", 97),
            ]:
                ticket += 1
                conn.execute(
                    "insert into marts.fct_tickets values (%s, %s, %s, %s, %s)",
                    (ticket, week, week + timedelta(days=ticket % 7), arm, frt),
                )
        for ticket_id, usage in enumerate(["accepted", "edited", "ignored", "ignored"]):
            conn.execute(
                "insert into marts.fct_assistant_suggestions values (%s, 'treatment', %s, %s, %s)",
                (ticket_id, usage, "да" if usage == "accepted" else None, weeks[0]),
            )
        conn.execute("insert into marts.kb_gaps values (%s, 'sso_ldap', 3)", (weeks[0],))
        replace_estimates(
            conn,
            [
                Estimate(
                    "frt_bm",
                    "ALL",
                    "treatment_vs_holdout",
                    "bootstrap",
                    88,
                    446,
                    95.0,
                    71.25,
                    -0.2413,
                    -0.3853,
                    0.0479,
                    0.3368,
                ),
                Estimate(
                    "frt_bm",
                    "sso_ldap",
                    "treatment_vs_holdout",
                    "bootstrap",
                    9,
                    40,
                    100.0,
                    70.0,
                    -0.3,
                    -0.6,
                    0.2,
                    0.7,
                ),
            ],
        )


def test_report_effect_writes_plots_and_numbers(kb_env: str, tmp_path: Path) -> None:
    _marts(kb_env)
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "effect", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    images = re.findall(r"<img alt='([^']+)' src='data:image/png;base64,", page)
    assert images == ["weekly median first response by arm", "effect by category"]
    assert "Каждая точка — медиана не меньше чем 10 обращений" in page
    assert "−24,1 %" in page
    assert "−38,5\u00a0% … +4,8\u00a0%" in page  # a bound never wraps before its %
    assert "SSO, AD и вход" in page  # category names, not codes
    assert "sso_ldap" not in page
    assert "Переоткрытия за 7 дней, %" in page
    assert "5,5 %" in page
    assert "Вывод: эффект пока не показан" in page or "Вывод: эффект не обнаружен" in page
    assert "<td>да</td><td>1</td>" in page
    assert "Черновик пригодился в 50\u00a0% обращений" in page  # accepted + edited of 4
    assert "<a href='https://kb.example.ru/1'>Вход через SSO</a>" in page
    assert "обращения с 07.09.2026 по " in page
    assert not re.search(r"src=['\"]https?://", page)  # nothing loads from the network


def test_report_effect_without_marts_fails_in_one_line(kb_env: str, tmp_path: Path) -> None:
    with psycopg.connect(kb_env, autocommit=True) as conn:
        conn.execute("drop schema if exists marts cascade")
    result = runner.invoke(app, ["report", "effect", "--out", str(tmp_path / "r.html")])
    assert result.exit_code != 0
    assert not (tmp_path / "r.html").exists()


RUN_REPORT = """
import json, sys
from flows.cli import app
try:
    app(["report", "effect", "--out", sys.argv[1]], standalone_mode=False)
finally:
    print("PREFECT=" + json.dumps("prefect" in sys.modules), file=sys.stderr)
"""


def test_report_effect_imports_no_prefect(kb_env: str, tmp_path: Path) -> None:
    """The report is built in assistant/effect: a lead's command does not start Prefect."""
    with psycopg.connect(kb_env, autocommit=True) as conn:
        conn.execute("drop schema if exists marts cascade")
    _marts(kb_env)
    out = tmp_path / "r.html"
    result = subprocess.run(
        [sys.executable, "-c", RUN_REPORT, str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": kb_env},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "PREFECT=false" in result.stderr
