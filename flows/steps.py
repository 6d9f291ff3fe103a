"""Steps: how a stage runs its network and database boundaries — the one retry module.

Stage bodies call each boundary through a `Step` hook (`assistant/steps.py`),
`step("name", fn, *args)`. Plain Python (tests, benchmarks, `.fn`) passes `direct_step`;
the Prefect flows pass a hook from `prefect_steps`, which turns every boundary into a
Prefect task retried only on errors that can heal, so one code path serves both. Tasks are
never cached (`NO_CACHE`): every boundary reads or writes live data.

`stage_step` is the hook every stage uses unless it names its own: a lost database
connection, a source or LLM that stayed down through its client's own retries
(`assistant/sources/http.py`) get one more try after ~10 s; anything else (bad data, a
4xx, a drifted taxonomy) fails the stage at once. No stage declares `@task(retries=…)`,
which would retry every error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from assistant.errors import DatabaseError
from assistant.llm.call import LLMUnavailable
from assistant.sources.http import RetryableError
from assistant.steps import Step

T = TypeVar("T")


RetryCondition = Callable[[Any, Any, Any], bool]


def retry_condition(transient: tuple[type[BaseException], ...]) -> RetryCondition:
    """Prefect's `retry_condition_fn`: retry only when the task failed with a `transient` error."""

    def heals(_task: Any, _run: Any, state: Any) -> bool:
        return isinstance(state.result(raise_on_failure=False), transient)

    return heals


def prefect_steps(
    *, transient: tuple[type[BaseException], ...], retries: int, delays: list[float]
) -> Step:
    """A hook running each boundary as a Prefect task, retried only on `transient` errors.

    Retries use the given delays with ±50 % jitter; any other error fails the task at once
    (a 4xx, bad data or a drifted taxonomy will not heal by waiting).
    """
    from prefect import task
    from prefect.cache_policies import NO_CACHE

    heals = retry_condition(transient)

    def step(name: str, fn: Callable[..., T], /, *args: Any) -> T:
        boundary = task(
            fn,
            name=name,
            retries=retries,
            retry_delay_seconds=delays,
            retry_jitter_factor=0.5,
            retry_condition_fn=heals,
            cache_policy=NO_CACHE,
        )
        return boundary(*args)

    return step


TRANSIENT: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,
    DatabaseError,
    RetryableError,
    LLMUnavailable,
)
"""What a stage's boundary may retry: failures that can heal by waiting."""

stage_step = prefect_steps(transient=TRANSIENT, retries=1, delays=[10])
"""The one stage helper: `stage_step("name", fn, *args)` runs `fn` as a Prefect task."""
