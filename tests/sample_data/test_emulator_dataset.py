"""Loading a dataset directory and the as-of views the emulators serve."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sample_data.emulators.dataset import (
    Clock,
    DatasetError,
    load_dataset,
    page_as_of,
    task_as_of,
)

MINI = Path(__file__).parent / "fixtures" / "mini_dataset"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_final_state_is_returned_unchanged() -> None:
    dataset = load_dataset(MINI)
    for task in dataset.tasks.values():
        assert task_as_of(task, _at("2030-01-01T00:00:00")) == task


def test_replay_matches_the_stored_final_state() -> None:
    dataset = load_dataset(MINI)
    for task in dataset.tasks.values():
        view = task_as_of(task, _at("2030-01-01T00:00:00"), extra=True)
        assert view is not None
        assert [f.get("value") for f in view["fields"]] == [f.get("value") for f in task["fields"]]
        assert view.get("close_date") == task.get("close_date")
        assert view["current_step"] == task["current_step"]


def test_task_history_as_of_several_moments() -> None:
    task = load_dataset(MINI).tasks[201500005]
    assert task_as_of(task, _at("2026-11-19T10:59:59")) is None
    opened = task_as_of(task, _at("2026-11-19T12:00:00"))
    assert opened is not None
    assert "close_date" not in opened
    assert opened["fields"][5]["value"] == "open"
    closed = task_as_of(task, _at("2026-11-19T16:00:00"))
    assert closed is not None
    assert closed["close_date"] == "2026-11-19T15:00:00Z"
    assert closed["is_closed"] is True
    assert closed["last_note_id"] == closed["comments"][-1]["id"]
    reopened = task_as_of(task, _at("2026-11-20T09:00:00"))
    assert reopened is not None
    assert "close_date" not in reopened
    assert reopened["is_closed"] is False


def test_page_versions_trash_and_purge() -> None:
    pages = {p["id"]: p for p in load_dataset(MINI).pages}
    assert page_as_of(pages["885100"], _at("2026-11-20T08:00:00")) is None
    vpn = page_as_of(pages["884736"], _at("2026-11-20T00:00:00"))
    assert vpn is not None
    assert vpn["version"]["number"] == 2
    trashed = page_as_of(pages["884802"], _at("2026-11-20T10:00:00"))
    assert trashed is not None
    assert trashed["status"] == "trashed"
    assert page_as_of(pages["885200"], _at("2026-11-20T00:00:00")) is None


def test_clock_moves_forward_only() -> None:
    clock = Clock(_at("2026-11-20T00:00:00"))
    assert clock.advance(days=1) == _at("2026-11-21T00:00:00")
    with pytest.raises(ValueError, match="forward"):
        clock.advance(hours=-1)


def test_clear_errors_for_missing_or_broken_datasets(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nope")
    broken = tmp_path / "broken"
    shutil.copytree(MINI, broken)
    with (broken / "pyrus_tasks.jsonl").open("a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    with pytest.raises(DatasetError, match=r"pyrus_tasks\.jsonl:7: invalid JSON"):
        load_dataset(broken)
    (broken / "pyrus_tasks.jsonl").write_text(json.dumps({"id": 1}) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="needs id and create_date"):
        load_dataset(broken)
    (broken / "metadata.json").unlink()
    with pytest.raises(DatasetError, match=r"metadata\.json"):
        load_dataset(broken)
