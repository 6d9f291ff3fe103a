"""The refresh stages and where each one lives.

Each stage module exposes `run_stage(runtime: Runtime, *, full: bool) -> dict[str, object]`
(a summary of counts). `kb refresh --only NAME` runs one; the daily parent flow runs
them in this order. A stage whose module does not exist yet is reported as not built.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from assistant.errors import NotBuiltYet

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
}
REFRESH_ORDER: tuple[str, ...] = tuple(STAGES)


def stage_runner(name: str) -> Callable[..., dict[str, Any]]:
    """The `run_stage` function of a stage, or `NotBuiltYet` naming what is missing."""
    if name not in STAGES:
        raise NotBuiltYet(f"unknown stage {name!r}; choose one of: {', '.join(STAGES)}")
    try:
        module = importlib.import_module(STAGES[name])
    except ModuleNotFoundError as exc:
        if exc.name != STAGES[name]:
            raise
        raise NotBuiltYet(f"refresh stage {name!r} is not built yet") from exc
    return module.run_stage  # type: ignore[no-any-return]
