"""The stage contract: `run(runtime) -> summary`, secret-free flow parameters, one runtime."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

from assistant.errors import ConfigError
from flows import runtime as runtime_module
from flows.runtime import Runtime, current_runtime
from flows.settings import FlowSettings
from flows.stages import REFRESH_ORDER, STAGES, UnknownStage, stage_runner

FLOWS_DIR = Path(__file__).resolve().parents[2] / "flows"
# what a person types when starting a flow; anything else (a URL, settings) is stored
# and shown by Prefect, and a database URL may hold a password
USER_PARAMETERS = {"full", "since", "stages", "full_refresh", "docs"}


def test_every_stage_module_exposes_run_of_one_runtime() -> None:
    for name in REFRESH_ORDER:
        run = stage_runner(name)
        parameters = list(inspect.signature(run).parameters)
        assert parameters == ["runtime"], f"{STAGES[name]}.run takes {parameters}"
        assert not hasattr(importlib.import_module(STAGES[name]), "run_stage")


def test_flows_take_only_parameters_a_user_would_type() -> None:
    from prefect import Flow

    flows_found = 0
    for path in sorted(FLOWS_DIR.glob("*.py")):
        if path.stem in {"cli", "demo"}:
            continue
        module = importlib.import_module(f"flows.{path.stem}")
        for value in vars(module).values():
            if isinstance(value, Flow) and value.__module__ == module.__name__:
                flows_found += 1
                extra = set(value.parameters.properties) - USER_PARAMETERS
                assert not extra, f"flow {value.name} takes {extra}"
    assert flows_found >= 9


def test_an_unknown_stage_is_a_config_error_naming_the_choices() -> None:
    with pytest.raises(UnknownStage, match=r"unknown stage 'indx'; choose one of: extract, "):
        stage_runner("indx")
    assert issubclass(UnknownStage, ConfigError)


def test_the_runtime_reaches_flows_one_way() -> None:
    settings = FlowSettings(_env_file=None)  # type: ignore[call-arg]
    runtime = Runtime(settings=settings, _url="postgresql://example/kb")
    with runtime.active():
        assert current_runtime() is runtime
        with runtime.with_options(full=True).active():
            inner = current_runtime()
            assert inner.full is True
            assert inner.database_url() == "postgresql://example/kb"  # no second resolve
        assert current_runtime() is runtime
    assert runtime.full is False


@pytest.mark.db
def test_migrations_run_once_per_runtime(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(runtime_module, "migrate", lambda url: calls.append(url) or [])
    settings = FlowSettings(_env_file=None, database_url=database_url)  # type: ignore[call-arg]
    runtime = Runtime(settings=settings)
    runtime.database_url()
    runtime.with_options(full=True).database_url()
    runtime.database_url()
    assert calls == [database_url]
