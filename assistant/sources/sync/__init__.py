"""The extract's sequencing without Prefect: source client → `landing.py` → raw.

Each sync calls its network and database boundaries through an `assistant.steps.Step` hook.
Plain Python (tests, the benchmark) runs them directly; `flows/extract.py` passes a hook
that wraps every boundary in a Prefect task with retries, so one code path serves both.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg

from assistant.progress import NO_PROGRESS, Progress
from assistant.sources import landing
from assistant.sources.http import SourceError
from assistant.sources.landing import LoadCounts
from assistant.steps import Step, direct_step

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


class Sync:
    """What every source's sync holds: connection, step hook, progress sink, run summary."""

    source = ""

    def __init__(
        self,
        conn: psycopg.Connection,
        *,
        step: Step = direct_step,
        progress: Progress = NO_PROGRESS,
    ) -> None:
        self.conn = conn
        self.step = step
        self.progress = progress
        self.summary = RunSummary(self.source)
        self.batch_id = uuid.uuid4()

    def tombstone_missing(
        self,
        spec: landing.Landing,
        known: set[Any],
        listed: set[Any],
        *,
        share: float,
        min_count: int,
        what: str,
        hint: str,
    ) -> list[Any]:
        """Tombstone stored keys the full listing no longer has; returns the keys gone.

        Call inside the transaction that also saves the watermark. `guard_mass_deletion`
        refuses (and nothing is tombstoned) when the listing looks broken.
        """
        gone = sorted(known - listed)
        guard_mass_deletion(
            len(gone), len(known), len(listed), share=share, min_count=min_count, what=what,
            hint=hint,
        )  # fmt: skip
        removed = landing.tombstone(self.conn, spec, [(key,) for key in gone], self.batch_id)
        self.summary.counts.tombstoned += removed
        return gone if removed else []
