"""The emulators over the committed sample dataset (skipped until it has been generated).

Checks the contract between the generator and the emulators: replaying the comments'
field_updates reproduces every stored final state, and moving the clock from day 1 to
day 2 reveals exactly the new and changed tickets the metadata announces.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sample_data.emulators.dataset import (
    DEFAULT_DATASET_DIR,
    Dataset,
    load_dataset,
    parse_ts,
    task_as_of,
)
from sample_data.emulators.sandbox import Sandbox, start_sandbox

pytestmark = pytest.mark.skipif(
    not (DEFAULT_DATASET_DIR / "pyrus_tasks.jsonl").exists(), reason="dataset not generated"
)


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return load_dataset(DEFAULT_DATASET_DIR)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with start_sandbox(DEFAULT_DATASET_DIR) as box:
        yield box


def test_replay_reproduces_every_final_state(dataset: Dataset) -> None:
    end = max(parse_ts(c["create_date"]) for t in dataset.tasks.values() for c in t["comments"])
    for task in dataset.tasks.values():
        view = task_as_of(task, end, extra=True)
        assert view is not None, task["id"]
        assert [f.get("value") for f in view["fields"]] == [f.get("value") for f in task["fields"]]
        assert view.get("close_date") == task.get("close_date"), task["id"]
        assert view["last_modified_date"] == task["last_modified_date"], task["id"]
        assert view["current_step"] == task["current_step"], task["id"]


def test_day2_reveals_the_announced_new_and_changed_tickets(
    sandbox: Sandbox, dataset: Dataset
) -> None:
    credentials = {"login": sandbox.pyrus_login, "security_key": sandbox.pyrus_key}
    token = httpx.post(sandbox.pyrus_auth_url, json=credentials).json()["access_token"]
    register = f"{sandbox.pyrus_api_url}forms/{dataset.form_id}/register"
    headers = {"Authorization": f"Bearer {token}"}
    day1 = dataset.metadata["day1_cutoff"]
    sandbox.clock.set(parse_ts(dataset.metadata["day2_cutoff"]))
    params = {"include_archived": "y", "modified_after": day1}
    changed = httpx.get(register, params=params, headers=headers).json()["tasks"]
    new = [t for t in changed if parse_ts(t["create_date"]) > parse_ts(day1)]
    expected = dataset.metadata["day1_to_day2"]
    assert len(new) == expected["new_tickets"]
    assert len(changed) - len(new) == expected["changed_tickets"]


def _page_versions(sandbox: Sandbox) -> dict[str, int]:
    spaces = ",".join(f'"{key}"' for key in sandbox.spaces)
    url = f"{sandbox.confluence_url}/rest/api/content/search"
    params = {"cql": f"space in ({spaces}) and type = page order by id", "expand": "version"}
    headers = {"Authorization": f"Bearer {sandbox.confluence_token}"}
    found: dict[str, int] = {}
    body = httpx.get(url, params=params, headers=headers).json()
    while True:
        found |= {r["id"]: r["version"]["number"] for r in body["results"]}
        if "next" not in body["_links"]:
            return found
        body = httpx.get(body["_links"]["base"] + body["_links"]["next"], headers=headers).json()


def test_day2_shows_page_edits_and_deletions(sandbox: Sandbox, dataset: Dataset) -> None:
    day1 = parse_ts(dataset.metadata["day1_cutoff"])
    day2 = parse_ts(dataset.metadata["day2_cutoff"])
    before = _page_versions(sandbox)
    sandbox.clock.set(day2)
    after = _page_versions(sandbox)
    in_scope = [p for p in dataset.pages if p["space_key"] in sandbox.spaces]
    edited = {
        p["id"]
        for p in in_scope
        if any(day1 < parse_ts(v["when"]) <= day2 for v in p["versions"])
        and not (p.get("deleted_at") and parse_ts(p["deleted_at"]) <= day2)
    }
    deleted = {
        p["id"]
        for p in in_scope
        if p.get("deleted_at") and day1 < parse_ts(p["deleted_at"]) <= day2
    }
    assert {i for i in after if before.get(i) != after[i]} == edited
    assert set(before) - set(after) == deleted
