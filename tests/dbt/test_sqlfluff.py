"""Every model, test and seed SQL in the dbt project passes sqlfluff (no database needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_dbt_project_passes_sqlfluff() -> None:
    completed = subprocess.run(  # the CLI as CI and `make lint` run it, with .sqlfluff
        [sys.executable, "-m", "sqlfluff", "lint", "dbt_project", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    files = json.loads(completed.stdout or "[]")
    problems = [
        f"{item['filepath']}:{v['start_line_no']} {v['code']} {v['description']}"
        for item in files
        for v in item["violations"]
    ]
    assert files, completed.stderr
    assert problems == []
    assert completed.returncode == 0, completed.stderr
