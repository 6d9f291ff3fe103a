"""The refresh stages, where each one lives, and what each one needs before it.

The contract: every stage module exposes `run(runtime: Runtime) -> dict[str, Any]` (a
summary of counts); run options (`full`, `since`) travel in the runtime. `kb refresh
--only NAME` runs one stage; the daily parent flow runs them in `REFRESH_ORDER`.

A stage may also expose `check(runtime) -> None`, raising `ConfigError` when a
prerequisite is missing (no source configured); it is cheap and runs before Prefect
starts. `DEPENDS` says which earlier stages a stage builds on: when one of them misses a
prerequisite (fails with `ConfigError`) or was skipped, the refresh skips the stage
with one line instead of running it into a second, confusing error. Any other failure
(a source down, a dbt test) does not block: later stages run on what did load.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from assistant.errors import ConfigError
from flows.runtime import Runtime

STAGES: dict[str, str] = {
    "extract": "flows.extract",
    "transform": "flows.transform",
    "categorize": "flows.categorize",
    "index": "flows.index",
    "replay": "flows.replay",
    "marts": "flows.transform",
    "label": "flows.label",
    "tune": "flows.tune",
    "score": "flows.score",
    "effect": "flows.effect",
    "purge": "flows.purge",
}
REFRESH_ORDER: tuple[str, ...] = tuple(STAGES)
DEPENDS: dict[str, tuple[str, ...]] = {
    "transform": ("extract",),
    "categorize": ("transform",),
    "index": ("transform",),
    "replay": ("index",),
    "marts": ("transform",),
    "label": ("marts",),
    "tune": ("label",),
    "score": ("marts",),
    "effect": ("score",),
    # Not a data dependency: an install with no source configured has nothing to purge yet,
    # and `kb refresh` there should not start Prefect for the purge alone.
    "purge": ("extract",),
}

StageRun = Callable[[Runtime], dict[str, Any]]


class UnknownStage(ConfigError):
    """A stage name that is not one of `STAGES` (a typo on the command line)."""


def check_stage_names(names: list[str] | tuple[str, ...]) -> None:
    """Raise `UnknownStage` for the first name that is not a stage (before any work)."""
    for name in names:
        if name not in STAGES:
            raise UnknownStage(f"unknown stage {name!r}; choose one of: {', '.join(STAGES)}")


def stage_runner(name: str) -> StageRun:
    """The `run` function of the stage called `name`."""
    check_stage_names([name])
    module = importlib.import_module(STAGES[name])
    return module.run  # type: ignore[no-any-return]


def stage_check(name: str) -> Callable[[Runtime], None] | None:
    """The stage's cheap prerequisite check, if it has one."""
    check_stage_names([name])
    return getattr(importlib.import_module(STAGES[name]), "check", None)
