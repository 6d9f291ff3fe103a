"""Steps: the hook through which a stage body calls its network and database boundaries.

A stage body calls each boundary as `step("name", fn, *args)`. Plain Python (tests,
benchmarks, `.fn`) passes `direct_step`; the Prefect flows pass the hook of
`flows/steps.py`, which turns each boundary into a Prefect task retried only on errors
that can heal. The protocol lives here, below `flows`, so the source syncs in
`assistant/sources/sync/` can take a hook without importing the orchestration layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Step(Protocol):
    """Run `fn(*args)` as the boundary called `name` (a Prefect task, or just a call)."""

    def __call__(self, name: str, fn: Callable[..., T], /, *args: Any) -> T: ...


def direct_step(name: str, fn: Callable[..., T], /, *args: Any) -> T:
    """The plain hook: call the function."""
    return fn(*args)
