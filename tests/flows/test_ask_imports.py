"""`kb ask` answers without importing scikit-learn, SciPy, Prefect or dbt.

Those imports were most of its start-up time (issue #18): the classifier is loaded in
its numpy-only form and the CLI imports the orchestration layer only for the commands
that run it. The real command runs in a fresh interpreter against a database with a
fitted classifier; the test reads that interpreter's `sys.modules`, so it is exact and
does not depend on the machine's speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from assistant.categorization.policy import CategorizeConfig, Categorizer
from assistant.db import connect
from assistant.settings import AssistantSettings
from tests.categorization.categorize_data import (
    create_fct_tickets,
    labelled_examples,
    write_taxonomy,
)

pytestmark = pytest.mark.db

HEAVY = ("sklearn", "scipy", "prefect", "dbt")
RUN_ASK = f"""
import json, sys
from flows.cli import app
try:
    app(["ask", sys.argv[1]], standalone_mode=False)
finally:
    loaded = sorted({{name.split(".")[0] for name in sys.modules}} & set({HEAVY!r}))
    print("HEAVY=" + json.dumps(loaded), file=sys.stderr)
"""


@pytest.fixture(scope="module")
def taxonomy_path(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with staff-labelled tickets and an active classifier trained on them."""
    path = write_taxonomy(tmp_path_factory.mktemp("taxonomy"))
    with connect(database_url, autocommit=True) as conn:
        create_fct_tickets(conn, labelled_examples())
        Categorizer.open(conn, AssistantSettings(), config=CategorizeConfig(taxonomy_path=path))
    return path


def test_kb_ask_imports_no_heavy_package(database_url: str, taxonomy_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "KB_CATEGORIZE_TAXONOMY_PATH": str(taxonomy_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", RUN_ASK, "Не приходят уведомления на почту о новых заявках"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "email_notifications" in result.stdout or "Почта" in result.stdout, result.stdout
    heavy = [line for line in result.stderr.splitlines() if line.startswith("HEAVY=")]
    assert heavy, result.stderr
    assert json.loads(heavy[-1].removeprefix("HEAVY=")) == []


def test_the_classifier_the_command_used_was_the_fitted_one(
    database_url: str, taxonomy_path: Path
) -> None:
    """Guards the first test against passing with no classifier loaded at all."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select predictor is not null from kb.classifier_models where is_active"
        ).fetchone()
    assert row == (True,)
