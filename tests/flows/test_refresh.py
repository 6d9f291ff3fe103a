"""The parent flow runs every stage, isolates a failing one and names it."""

from __future__ import annotations

from typing import Any

import pytest

from assistant.errors import ConfigError
from flows import refresh
from flows.runtime import Runtime
from flows.settings import FlowSettings


@pytest.mark.slow
@pytest.mark.prefect
def test_a_failing_stage_does_not_block_the_others(
    kb_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[str] = []

    def runner(name: str) -> Any:
        def run(runtime: Any) -> dict[str, Any]:
            ran.append(name)
            if name == "extract":
                raise RuntimeError("Pyrus answered 503 five times")
            return {"rows": len(ran)}

        return run

    monkeypatch.setattr(refresh, "stage_runner", runner)
    with pytest.raises(refresh.RefreshFailed, match=r"extract: RuntimeError: Pyrus answered 503"):
        refresh.kb_refresh(full=False)
    assert ran == list(refresh.REFRESH_ORDER)


def _runner(ran: list[str], failures: dict[str, Exception]) -> Any:
    def runner(name: str) -> Any:
        def run(runtime: Any) -> dict[str, Any]:
            ran.append(name)
            if name in failures:
                raise failures[name]
            return {"rows": len(ran), "by_kind": {"a": 1}}

        return run

    return runner


def _runtime(heard: list[Any]) -> Runtime:
    settings = FlowSettings(_env_file=None)  # type: ignore[call-arg]
    return Runtime(settings=settings, on_stage=heard.append, _url="postgresql://unused/kb")


def test_a_missing_prerequisite_skips_the_stages_that_build_on_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[str] = []
    missing = ConfigError("no extract source configured: set PYRUS_LOGIN")
    monkeypatch.setattr(refresh, "stage_runner", _runner(ran, {"extract": missing}))
    heard: list[Any] = []
    results = refresh.run_stages(_runtime(heard), refresh.REFRESH_ORDER)
    assert ran == ["extract"]
    assert [(r.name, r.status) for r in heard] == [(r.name, r.status) for r in results]
    assert results[0].what() == "no extract source configured: set PYRUS_LOGIN"
    assert {r.status for r in results[1:]} == {"skipped"}
    assert results[1].what() == "extract did not complete"
    skipped = len(refresh.REFRESH_ORDER) - 1
    with pytest.raises(
        refresh.RefreshFailed, match=rf"^1 stage\(s\) failed, {skipped} skipped — extract: no"
    ):
        refresh.raise_for_failures(results)


def test_a_runtime_failure_blocks_nothing_and_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[str] = []
    boom = RuntimeError("dbt\nexploded\n  badly")
    monkeypatch.setattr(refresh, "stage_runner", _runner(ran, {"transform": boom}))
    results = refresh.run_stages(_runtime([]), ["extract", "transform", "index"])
    assert ran == ["extract", "transform", "index"]
    assert results[1].what() == "RuntimeError: dbt exploded badly"
    assert results[2].status == "ok"
    assert results[0].what() == "rows 1, by_kind a 1"


def test_nothing_can_run_reports_without_running(monkeypatch: pytest.MonkeyPatch) -> None:
    heard: list[Any] = []
    blocked = refresh.nothing_can_run(_runtime(heard), refresh.REFRESH_ORDER)
    assert [r.status for r in blocked] == ["failed"] + ["skipped"] * (
        len(refresh.REFRESH_ORDER) - 1
    )
    assert "PYRUS_LOGIN, CONFLUENCE_URL or KB_SQL_SOURCE_URL" in blocked[0].error
    assert len(heard) == len(refresh.REFRESH_ORDER)
    settings = FlowSettings(_env_file=None, pyrus_login="bot@example.com")  # type: ignore[call-arg]
    assert refresh.nothing_can_run(Runtime(settings=settings), refresh.REFRESH_ORDER) == []


def test_summary_rows_are_readable() -> None:
    ok = refresh.StageResult("index", "ok", 2.5, {"chunks": 10, "ratio": 0.123456, "seconds": 2})
    skipped = refresh.StageResult("score", "skipped", error="marts did not complete")
    assert ok.as_row() == {"stage": "index", "status": "ok", "seconds": "2.5",
                           "what": "chunks 10, ratio 0.1235"}  # fmt: skip
    assert skipped.as_row()["seconds"] == ""


def test_the_run_summary_artifact_has_one_column_per_count() -> None:
    results = [
        refresh.StageResult(
            "extract", "ok", 3.0, {"pyrus": {"new": 5, "changed": 1}, "seconds": 2.9}
        ),
        refresh.StageResult("index", "ok", 2.5, {"chunks": 10, "ratio": 0.123456}),
        refresh.StageResult("replay", "skipped", error="index did not complete"),
    ]
    rows = refresh.summary_table_rows(results)
    assert list(rows[0]) == [
        "stage", "status", "seconds", "reason", "pyrus new", "pyrus changed", "chunks", "ratio"
    ]  # fmt: skip
    assert all(list(row) == list(rows[0]) for row in rows)  # every row has every column
    assert rows[0]["pyrus new"] == "5"
    assert rows[0]["chunks"] == ""
    assert rows[1]["ratio"] == "0.1235"
    assert rows[2]["reason"] == "index did not complete"
    assert rows[2]["seconds"] == ""
