"""Where long work reports how far it got: the `Progress` sink and its silent default.

Extract (backfills), index (embedding), replay and the answer evaluation report through a
`Progress` sink: `expect(n)` when n more items are known to come, `advance(n)` when n are
done. The terminal bar lives with the CLI (`flows/progress.py`); everything below `flows`
only needs the protocol and the silent sink.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Where a stage reports how far it got."""

    def expect(self, more: int) -> None:
        """`more` items are now known to come (the total grows)."""

    def advance(self, done: int) -> None:
        """`done` more items are finished."""


class NoProgress:
    """The silent sink."""

    def expect(self, more: int) -> None:
        """Nothing to draw."""

    def advance(self, done: int) -> None:
        """Nothing to draw."""


NO_PROGRESS = NoProgress()
