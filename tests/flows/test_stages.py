"""The stage contract: `run(runtime) -> summary`, secret-free flow parameters, one runtime."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import psycopg
import pytest

from assistant.errors import ConfigError, DatabaseError
from assistant.llm.call import LLMUnavailable
from assistant.sources.http import HttpStatusError, RetryableError
from flows import runtime as runtime_module
from flows.runtime import Runtime, current_runtime
from flows.settings import FlowSettings
from flows.stages import REFRESH_ORDER, STAGES, UnknownStage, stage_runner
from flows.steps import TRANSIENT, prefect_steps

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


def _calls(tree: ast.AST, names: set[str]) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) in names
    ]


def test_every_retry_goes_through_the_one_policy() -> None:
    """`@task(retries=…)` retries every error; only flows/steps.py builds retried tasks."""
    found = []
    for path in sorted(FLOWS_DIR.glob("*.py")):
        if path.name == "steps.py":
            continue
        for call in _calls(ast.parse(path.read_text("utf-8")), {"task"}):
            if any(keyword.arg == "retries" for keyword in call.keywords):
                found.append(f"{path.name}:{call.lineno}")
    assert found == []


def test_no_boundary_takes_the_settings_as_a_parameter() -> None:
    """Prefect stores task parameters; settings hold secrets (flows/runtime.py)."""
    found = []
    for path in sorted(FLOWS_DIR.glob("*.py")):
        for call in _calls(ast.parse(path.read_text("utf-8")), {"stage_step", "prefect_step"}):
            for arg in call.args:
                name = getattr(arg, "attr", getattr(arg, "id", None))
                if name == "settings":
                    found.append(f"{path.name}:{call.lineno}")
    assert found == []


@pytest.mark.parametrize(
    ("error", "heals"),
    [
        (psycopg.OperationalError("server closed the connection"), True),
        (DatabaseError("cannot connect"), True),
        (RetryableError("gave up after 6 attempts"), True),
        (LLMUnavailable("endpoint down"), True),
        (HttpStatusError("forbidden", status=403), False),
        (ConfigError("EMBEDDING_MODEL is not set"), False),
        (ValueError("bad data"), False),
    ],
)
def test_a_stage_boundary_is_run_again_only_after_a_transient_error(
    error: Exception, heals: bool
) -> None:
    """The stage helper's policy, run by Prefect (with no delay, so the test does not wait)."""
    from prefect import flow

    calls: list[int] = []

    def boundary() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise error
        return "done"

    step = prefect_steps(transient=TRANSIENT, retries=1, delays=[0])

    @flow(name="stage-helper-test")
    def stage() -> str:
        return step("boundary", boundary)

    if heals:
        assert stage() == "done"
        assert len(calls) == 2
    else:
        with pytest.raises(type(error)):
            stage()
        assert len(calls) == 1
