"""Rate limits, injected faults and the request log of the Pyrus emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sample_data.emulators.sandbox import Sandbox, start_sandbox

MINI = Path(__file__).parent / "fixtures" / "mini_dataset"
LOGIN, KEY = "bot@mini-test", "mini-key"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with start_sandbox(MINI, pyrus_login=LOGIN, pyrus_key=KEY, pyrus_rate_limit=3) as box:
        yield box


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx.Client]:
    body = httpx.post(sandbox.pyrus_auth_url, json={"login": LOGIN, "security_key": KEY}).json()
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    with httpx.Client(base_url=body["api_url"], headers=headers) as client:
        yield client


def test_rate_limit_headers_and_429_body(api: httpx.Client) -> None:
    remaining = [api.get("members").headers["X-RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    limited = api.get("members")
    assert limited.status_code == 429
    assert limited.json() == {
        "error": "Превышено максимальное число запросов за 10 минут.",
        "error_code": "too_many_requests",
    }
    assert limited.headers["X-RateLimit-Limit"] == "3"
    assert 0 < int(limited.headers["X-RateLimit-Reset"]) <= 600


def test_next_requests_fail_with_5xx_then_recover(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.pyrus.faults.fail_next(2, status=503)
    statuses = [api.get("tasks/201500003").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert sandbox.pyrus.log.count("GET", "/v4/tasks/201500003") == 3


def test_truncated_body_is_not_valid_json(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.pyrus.faults.truncate_next(1, path_prefix="/v4/tasks")
    broken = api.get("tasks/201500003")
    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.content)
    assert api.get("tasks/201500003").json()["task"]["id"] == 201500003


def test_delay_makes_a_short_client_timeout_fire(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.pyrus.faults.delay_next(1, seconds=1.0)
    with pytest.raises(httpx.ReadTimeout):
        api.get("tasks/201500003", timeout=0.2)
    assert sandbox.pyrus.faults.pending() == 0


def test_deleted_task_stays_in_register_but_get_is_404(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.pyrus.delete_task(201500003)
    listed = api.get("forms/321456/register").json()["tasks"]
    assert 201500003 in [t["id"] for t in listed]
    gone = api.get("tasks/201500003")
    assert (gone.status_code, gone.json()["error_code"]) == (404, "task_not_found")


def test_request_log_records_method_path_query(sandbox: Sandbox, api: httpx.Client) -> None:
    api.get("forms/321456/register", params={"sort": "id", "id": "gt0"})
    entry = sandbox.pyrus.log.entries[-1]
    assert (entry.method, entry.path, entry.query) == (
        "GET",
        "/v4/forms/321456/register",
        {"sort": "id", "id": "gt0"},
    )
    assert entry.user == LOGIN
    assert sandbox.pyrus.log.count("POST", "/api/v4/auth") == 1


def test_http_fault_hook_for_other_processes(sandbox: Sandbox, api: httpx.Client) -> None:
    hook = f"{sandbox.pyrus_url}/_emulator/faults"
    queued = httpx.post(hook, json={"fail": 1, "status": 502, "delete_task": 201500006})
    assert queued.json() == {"pending": 1}
    assert api.get("members").status_code == 502
    assert api.get("tasks/201500006").status_code == 404
