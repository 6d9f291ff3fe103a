"""The `kb` console script: help, db commands, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flows.stages import REFRESH_ORDER


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


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_an_unknown_stage_is_one_line_naming_the_stages() -> None:
    result = run_kb("refresh", "--only", "indx")
    assert result.returncode == 2
    line = _one_line_error(result)
    assert "unknown stage 'indx'; choose one of: extract, transform" in line
    assert "not built" not in line


def test_verbose_shows_the_traceback() -> None:
    result = run_kb("refresh", "--only", "indx", "--verbose")
    assert result.returncode == 2
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: unknown stage")


def test_a_malformed_database_url_is_one_line() -> None:
    result = run_kb("refresh", "--only", "transform", env={"DATABASE_URL": "postgres//oops"})
    assert result.returncode == 2
    assert "DATABASE_URL is not a valid connection URL" in _one_line_error(result)


def test_an_unreachable_database_url_is_one_line_for_refresh() -> None:
    result = run_kb("refresh", env={"DATABASE_URL": "postgresql://u:pw@127.0.0.1:1/x"})
    assert result.returncode == 2
    line = _one_line_error(result)
    assert "cannot connect to DATABASE_URL" in line
    assert "pw@" not in line


@pytest.mark.db
def test_refresh_without_sources_fails_extract_and_skips_the_rest(database_url: str) -> None:
    no_sources = {
        "DATABASE_URL": database_url,
        "PYRUS_LOGIN": "",
        "CONFLUENCE_URL": "",
        "KB_SQL_SOURCE_URL": "",
    }
    result = run_kb("refresh", env=no_sources)
    assert result.returncode == 2
    line = _one_line_error(result)
    assert f"1 stage(s) failed, {len(REFRESH_ORDER) - 1} skipped" in line
    assert "set PYRUS_LOGIN, CONFLUENCE_URL or KB_SQL_SOURCE_URL" in line
    stage_lines = [
        row for row in result.stdout.splitlines() if row.startswith(("failed", "skipped"))
    ]
    assert [row.split()[:2] for row in stage_lines] == [
        ["failed", "extract"],
        *[["skipped", name] for name in REFRESH_ORDER[1:]],
    ]
    assert "extract did not complete" in stage_lines[1]
    assert "Starting temporary server" not in result.stdout + result.stderr  # Prefect never ran
