"""The parent flow runs every stage, isolates a failing one and names it."""

from __future__ import annotations

from typing import Any

import pytest

from flows import refresh


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
    with pytest.raises(refresh.RefreshFailed, match=r"extract: Pyrus answered 503"):
        refresh.kb_refresh(full=False)
    assert ran == list(refresh.REFRESH_ORDER)


def test_summary_markdown_lists_every_stage() -> None:
    table = refresh._summary_markdown(
        {
            "extract": {"status": "failed", "error": "boom", "seconds": 1.0, "summary": {}},
            "index": {"status": "ok", "seconds": 2.5, "summary": {"chunks": 10}},
        }
    )
    assert "| extract | failed | 1.0 | boom |" in table
    assert "| index | ok | 2.5 | chunks=10 |" in table
