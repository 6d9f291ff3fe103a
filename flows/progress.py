"""Progress for people: a bar with total, rate and ETA for the long stages.

The sink protocol and the silent sink are `assistant/progress.py`; this module draws.

Extract (backfills), index (embedding) and replay report progress through a `Progress`
sink: `expect(n)` when n more items are known to come, `advance(n)` when n are done.
On an interactive terminal (`runtime.progress`, set by the CLI) the sink draws a rich bar
on stderr; elsewhere (Prefect workers, tests, pipes) it is silent and costs nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from assistant.progress import NO_PROGRESS, Progress


class _RichProgress:
    def __init__(self, bar: Any, task_id: Any) -> None:
        self.bar, self.task_id, self.total = bar, task_id, 0

    def expect(self, more: int) -> None:
        self.total += more
        self.bar.update(self.task_id, total=self.total)

    def advance(self, done: int) -> None:
        self.bar.advance(self.task_id, done)


@contextlib.contextmanager
def progress_bar(enabled: bool, label: str, unit: str = "items") -> Iterator[Progress]:
    """A bar on stderr while the block runs (only when enabled and stderr is a terminal)."""
    if not enabled:
        yield NO_PROGRESS
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        ProgressColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as RichBar
    from rich.text import Text

    class _RateColumn(ProgressColumn):
        """Items per second (rich's speed column counts bytes)."""

        def render(self, task: Any) -> Text:
            return Text(f"{task.speed:,.0f}/s" if task.speed else "   …/s")

    console = Console(stderr=True)
    if not console.is_terminal:
        yield NO_PROGRESS
        return
    columns = (
        TextColumn(f"{label:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TaskProgressColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with RichBar(*columns, console=console, transient=True) as bar:
        task_id = bar.add_task(label, total=None)
        yield _RichProgress(bar, task_id)
