"""The refresh stages, where each one lives, and what each one needs before it.

The contract: every stage module exposes `run(runtime: Runtime) -> dict[str, Any]` (a
summary of counts); run options (`full`, `since`) travel in the runtime. `kb refresh
--only NAME` runs one stage; the daily parent flow runs them in `REFRESH_ORDER`.
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
    "score": "flows.score",
    "effect": "flows.effect",
}
REFRESH_ORDER: tuple[str, ...] = tuple(STAGES)

StageRun = Callable[[Runtime], dict[str, Any]]


class UnknownStage(ConfigError):
    """A stage name that is not one of `STAGES` (a typo on the command line)."""


def stage_runner(name: str) -> StageRun:
    """The `run` function of the stage called `name`."""
    if name not in STAGES:
        raise UnknownStage(f"unknown stage {name!r}; choose one of: {', '.join(STAGES)}")
    module = importlib.import_module(STAGES[name])
    return module.run  # type: ignore[no-any-return]
