"""The `kb` console script: help, db commands, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run_kb(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


def test_help_lists_every_command() -> None:
    result = run_kb("--help")
    assert result.returncode == 0
    for command in ("demo", "refresh", "ask", "serve", "eval", "report", "db"):
        assert command in result.stdout


@pytest.mark.db
def test_db_psql_prints_vector_version(kb_env: str) -> None:
    result = run_kb(
        "db", "psql", "-tA", "-c", "select extversion from pg_extension where extname = 'vector'"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("0.8")


def test_invalid_setting_names_the_variable() -> None:
    result = run_kb("db", "status", env={"ASSISTANT_HOLDOUT": "1.7"})
    assert result.returncode == 2
    assert "ASSISTANT_HOLDOUT" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreachable_database_url_is_one_line() -> None:
    result = run_kb("db", "url", env={"DATABASE_URL": "postgresql://u:pw@127.0.0.1:1/x"})
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr
    assert "pw@" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_db_status_checks_an_unreachable_external_database() -> None:
    result = run_kb("db", "status", env={"DATABASE_URL": "postgresql://u:pw@127.0.0.1:1/x"})
    assert result.returncode == 2
    assert "cannot connect to DATABASE_URL" in result.stderr
    assert "pw@" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_db_status_rejects_a_malformed_url_in_one_line() -> None:
    result = run_kb("db", "status", env={"DATABASE_URL": "postgres//oops"})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: DATABASE_URL is not a valid connection string "
        "(expected postgresql://user:password@host:5432/dbname)"
    )


@pytest.mark.db
def test_db_status_reports_a_reachable_external_database(kb_env: str) -> None:
    result = run_kb("db", "status")
    assert result.returncode == 0, result.stderr
    assert "reachable, PostgreSQL" in result.stdout
