"""What `kb refresh` shows a person: one line per stage, a closing table, no log walls.

Prefect's flow- and task-run log lines still reach the run log and the UI (its API
handler); on the terminal they appear only with `--verbose`. `quiet_prefect_console` is
called after Prefect is imported and before the first flow runs.
"""

from __future__ import annotations

import logging
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

STATUS_STYLE = {"ok": "green", "failed": "bold red", "skipped": "yellow"}


def quiet_prefect_console() -> None:
    """Keep run-log lines off the terminal: they go to Prefect's API handler only.

    Warnings from anything else (our loggers, Prefect's client) still reach stderr.
    """
    for name in ("prefect.flow_runs", "prefect.task_runs"):
        logging.getLogger(name).propagate = False
    for handler in logging.getLogger().handlers:
        handler.setLevel(max(handler.level, logging.WARNING))


def stage_line(result: Any) -> str:
    """`ok       extract      12.3 s  pyrus: new 5, …` as rich markup (text escaped)."""
    style = STATUS_STYLE.get(result.status, "")
    seconds = f"{result.seconds:6.1f} s" if result.status != "skipped" else " " * 8
    return (
        f"[{style}]{result.status:<8}[/{style}]{result.name:<11} {seconds}  {escape(result.what())}"
    )


def summary_table(results: list[Any]) -> Table:
    """The closing table: every stage, its status, seconds and what it did (wrapped)."""
    table = Table(title="kb refresh", title_justify="left", expand=False, show_lines=False)
    table.add_column("stage", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("seconds", justify="right", no_wrap=True)
    table.add_column("what it did", overflow="fold")
    for result in results:
        row = result.as_row()
        style = STATUS_STYLE.get(result.status, "")
        table.add_row(
            row["stage"], f"[{style}]{row['status']}[/{style}]", row["seconds"], escape(row["what"])
        )
    return table


def print_stage(console: Console, result: Any, *, cut: bool = False) -> None:
    """One stage line; `cut` keeps a finished stage to one terminal line (ending in «…»).

    `kb refresh` prints it whole (and a closing table), as that is where the figures are
    read; `kb demo` has two screens for the whole loop. A failure's reason is never cut,
    nor is any line written to a file or pipe (a log is read later, in full: tune's
    reason sits at the end of its line).
    """
    if cut and result.status == "ok" and console.is_terminal:
        console.print(stage_line(result), no_wrap=True, overflow="ellipsis", crop=True)
    else:
        console.print(stage_line(result), soft_wrap=True)
