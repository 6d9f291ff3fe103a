"""The extract's sequencing without Prefect: source client → `flows.landing` → raw.

Each sync calls its network and database boundaries through a `flows.steps.Step` hook.
Plain Python (tests, the benchmark) runs them directly; `flows/extract.py` passes a hook
that wraps every boundary in a Prefect task with retries, so one code path serves both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flows.landing import LoadCounts
from flows.progress import NO_PROGRESS, Progress
from flows.sources.http import SourceError

__all__ = ["NO_PROGRESS", "Progress"]  # the sinks every sync takes

T = TypeVar("T")


@dataclass
class RunSummary:
    """What a sync reports: counts, HTTP figures, per-object errors, wall time."""

    source: str
    counts: LoadCounts = field(default_factory=LoadCounts)
    errors: int = 0
    fetched: int = 0
    started: float = field(default_factory=time.monotonic)
    http: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            **self.counts.as_dict(),
            "errors": self.errors,
            "fetched": self.fetched,
            "requests": self.http.get("requests", 0),
            "429s": self.http.get("rate_limited", 0),
            "retries": self.http.get("retries", 0),
            "requests_by_kind": self.http.get("by_kind", {}),
            "seconds": round(time.monotonic() - self.started, 3),
        }


def chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class MassDeletionError(SourceError):
    """Too many records vanished in one run to trust the listing."""


def guard_mass_deletion(
    gone: int, known: int, listed: int, *, share: float, min_count: int, what: str, hint: str
) -> None:
    """Refuse to tombstone when the listing looks broken rather than the data deleted.

    An empty listing always trips it; fewer than `min_count` disappearances never do.
    """
    if not known or not gone:
        return
    ratio = gone / known
    if listed == 0 or (gone >= min_count and ratio > share):
        raise MassDeletionError(
            f"{gone} of {known} stored {what} ({ratio:.0%}) are missing from the source, "
            f"above the {share:.0%} guard; nothing was tombstoned. {hint}"
        )
