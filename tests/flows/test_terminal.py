"""What `kb refresh` prints: stage lines, a closing table that never cuts a cell, quiet logs."""

from __future__ import annotations

import logging

import pytest
from rich.console import Console

from flows.refresh import StageResult
from flows.terminal import quiet_prefect_console, stage_line, summary_table

LONG = "pyrus: " + ", ".join(f"counter_{i} {i}" for i in range(30))


def _render(renderable: object, width: int = 80) -> str:
    console = Console(record=True, width=width, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_a_stage_line_has_status_name_seconds_and_counts() -> None:
    result = StageResult("index", "ok", 12.34, {"embedded": 5, "skipped": 7, "seconds": 12})
    text = _render(stage_line(result), width=200)
    assert text.split() == ["ok", "index", "12.3", "s", "embedded", "5,", "skipped", "7"]


def test_markup_in_an_error_is_printed_literally() -> None:
    result = StageResult("transform", "failed", 1.0, error="model [bold]x[/bold] failed")
    assert "model [bold]x[/bold] failed" in _render(stage_line(result), width=200)


def test_the_summary_table_wraps_instead_of_cutting() -> None:
    results = [
        StageResult("extract", "ok", 3.0, {"pyrus": {"new": 5}}),
        StageResult("transform", "failed", 1.0, error=LONG),
        StageResult("index", "skipped", error="transform did not complete"),
    ]
    text = _render(summary_table(results))
    assert "…" not in text
    flat = "".join(text.split())
    assert "".join(LONG.split()) in flat.replace("│", "")
    assert "pyrus:new5" in flat


def test_quiet_console_keeps_run_logs_off_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler()
    handler.setLevel(logging.INFO)
    monkeypatch.setattr(root, "handlers", [handler])
    for name in ("prefect.flow_runs", "prefect.task_runs"):
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)
    quiet_prefect_console()
    assert not logging.getLogger("prefect.flow_runs").propagate
    assert not logging.getLogger("prefect.task_runs").propagate
    assert handler.level == logging.WARNING
