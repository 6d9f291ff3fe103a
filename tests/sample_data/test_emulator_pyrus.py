"""The Pyrus emulator over the mini dataset: auth, register filters and paging, tasks, comments."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sample_data.emulators.sandbox import Sandbox, start_sandbox

MINI = Path(__file__).parent / "fixtures" / "mini_dataset"
LOGIN, KEY = "bot@mini-test", "mini-key"
FORM = 321456
ALL_IDS = [201500001, 201500002, 201500003, 201500005, 201500006]  # created by day 1


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with start_sandbox(MINI, pyrus_login=LOGIN, pyrus_key=KEY) as box:
        yield box


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx.Client]:
    token = httpx.post(sandbox.pyrus_auth_url, json={"login": LOGIN, "security_key": KEY})
    assert token.status_code == 200
    body = token.json()
    assert body["api_url"] == sandbox.pyrus_api_url
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    with httpx.Client(base_url=body["api_url"], headers=headers) as client:
        yield client


def _ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [task["id"] for task in response.json()["tasks"]]


def test_auth_rejects_wrong_key_and_bearer_errors_use_documented_codes(sandbox: Sandbox) -> None:
    wrong = httpx.post(sandbox.pyrus_auth_url, json={"login": LOGIN, "security_key": "nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error_code"] == "invalid_credentials"
    url = sandbox.pyrus_api_url + "forms"
    assert httpx.get(url).json()["error_code"] == "token_not_specified"
    bad = httpx.get(url, headers={"Authorization": "Bearer forged"})
    assert (bad.status_code, bad.json()["error_code"]) == (401, "invalid_token")


def test_expired_tokens_get_401_and_a_fresh_auth_works(sandbox: Sandbox, api: httpx.Client) -> None:
    assert api.get("forms").status_code == 200
    httpx.post(f"{sandbox.pyrus_url}/_emulator/expire_tokens")
    expired = api.get("forms")
    assert (expired.status_code, expired.json()["error_code"]) == (401, "expired_token")
    fresh = httpx.post(sandbox.pyrus_auth_url, json={"login": LOGIN, "security_key": KEY}).json()
    again = api.get("forms", headers={"Authorization": f"Bearer {fresh['access_token']}"})
    assert again.status_code == 200


def test_forms_form_and_members(api: httpx.Client) -> None:
    assert [f["id"] for f in api.get("forms").json()["forms"]] == [FORM]
    form = api.get(f"forms/{FORM}").json()
    assert form["name"] == "Обращения в поддержку"
    assert api.get("forms/1").status_code == 403
    emails = {m["email"] for m in api.get("members").json()["members"]}
    assert "m.sokolova@example-shop.ru" in emails


def test_register_hides_closed_tasks_unless_include_archived(api: httpx.Client) -> None:
    assert _ids(api.get(f"forms/{FORM}/register")) == [201500002, 201500003, 201500006]
    assert _ids(api.get(f"forms/{FORM}/register", params={"include_archived": "y"})) == ALL_IDS


def test_register_keyset_paging_with_sort_id_and_id_gt(api: httpx.Client) -> None:
    seen: list[int] = []
    last, pages = 0, 0
    while True:
        params = {"include_archived": "y", "sort": "id", "id": f"gt{last}", "item_count": 2}
        page = _ids(api.get(f"forms/{FORM}/register", params=params))
        pages += 1
        seen += page
        if len(page) < 2:
            break
        last = page[-1]
    assert seen == ALL_IDS
    assert pages == 3


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"modified_after": "2026-11-18T00:00:00Z"}, [201500003, 201500005]),
        ({"modified_before": "2026-11-12T11:00:00Z"}, [201500001, 201500006]),
        ({"created_after": "2026-11-15T09:00:00Z"}, [201500002, 201500003, 201500005]),
        ({"created_before": "2026-11-12T00:00:00Z"}, [201500001]),
        ({"closed_after": "2026-11-19T00:00:00Z"}, [201500005]),
        ({"closed_before": "2026-11-19T00:00:00Z"}, [201500001]),
        ({"task_ids": "201500003,201500006,999"}, [201500003, 201500006]),
        ({"steps": "2"}, [201500001]),
        ({"id": "gt201500001,lt201500005"}, [201500002, 201500003]),
        ({"fld5": "2"}, [201500001, 201500005]),
        ({"fld14": "*"}, [201500001]),
    ],
)
def test_register_filters(api: httpx.Client, params: dict[str, str], expected: list[int]) -> None:
    query = {"include_archived": "y", **params}
    assert _ids(api.get(f"forms/{FORM}/register", params=query)) == expected


def test_register_post_body_like_the_python_client_and_field_ids(api: httpx.Client) -> None:
    body = {"include_archived": True, "task_ids": [201500001, 201500002], "field_ids": [5, 1]}
    tasks = api.post(f"forms/{FORM}/register", json=body).json()["tasks"]
    assert [t["id"] for t in tasks] == [201500001, 201500002]
    assert [f["id"] for f in tasks[0]["fields"]] == [5, 1]
    assert all("comments" not in t and "form_id" not in t for t in tasks)


def test_register_rejects_bad_parameters(api: httpx.Client) -> None:
    for params in ({"item_count": "20001"}, {"modified_after": "2026-11-18 00:00"}, {"sort": "x"}):
        response = api.get(f"forms/{FORM}/register", params=params)
        assert (response.status_code, response.json()["error_code"]) == (400, "validation_error")


def test_get_task_as_of_clock_and_unknown_task(sandbox: Sandbox, api: httpx.Client) -> None:
    task = api.get("tasks/201500005").json()["task"]
    assert task["close_date"] == "2026-11-19T15:00:00Z"
    assert len(task["comments"]) == 2
    assert api.get("tasks/201500004").status_code == 404  # created on day 2
    missing = api.get("tasks/1")
    assert (missing.status_code, missing.json()["error_code"]) == (404, "task_not_found")


def test_clock_advance_shows_new_and_changed_tasks(sandbox: Sandbox, api: httpx.Client) -> None:
    before = api.get("tasks/201500002").json()["task"]
    assert "close_date" not in before
    assert before["fields"][3]["value"]["choice_ids"] == [4]
    moved = httpx.post(f"{sandbox.pyrus_url}/_emulator/clock", json={"days": 1}).json()
    assert moved["now"] == "2026-11-21T00:00:00Z"
    after = api.get("tasks/201500002").json()["task"]
    assert after["close_date"] == "2026-11-20T10:00:00Z"
    assert after["fields"][3]["value"]["choice_names"] == ["Доступ к аккаунту"]
    assert after["last_modified_date"] == "2026-11-20T10:00:00Z"
    reopened = api.get("tasks/201500005").json()["task"]
    assert "close_date" not in reopened
    changed = {"modified_after": "2026-11-20T00:00:00Z", "include_archived": "y"}
    assert _ids(api.get(f"forms/{FORM}/register", params=changed)) == [
        201500002,
        201500004,
        201500005,
    ]


def test_comment_applies_field_updates_action_and_approval(
    sandbox: Sandbox, api: httpx.Client
) -> None:
    body = {
        "text": "Рекомендация для сотрудника (ИИ): проверьте прокси.",
        "field_updates": [{"code": "u_ai_draft", "value": "Здравствуйте! Проверьте прокси."}],
        "approval_choice": "approved",
    }
    task = api.post("tasks/201500006/comments", json=body).json()["task"]
    comment = task["comments"][-1]
    assert comment["author"]["email"] == LOGIN
    assert comment["create_date"] == "2026-11-20T00:00:00Z"
    assert comment["field_updates"][0]["name"] == "Черновик ответа"
    draft = next(f for f in task["fields"] if f["id"] == 14)
    assert draft["value"] == "Здравствуйте! Проверьте прокси."
    assert task["current_step"] == 2
    assert task["last_note_id"] == comment["id"]
    closed = api.post("tasks/201500006/comments", json={"text": "Готово", "action": "finished"})
    assert closed.json()["task"]["close_date"] == "2026-11-20T00:00:00Z"
    assert api.get("tasks/201500006").json()["task"]["close_date"] == "2026-11-20T00:00:00Z"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (None, "empty_body"),
        ({}, "text_missing"),
        ({"text": "x", "field_updates": [{"id": 999, "value": "x"}]}, "invalid_field_id"),
        ({"text": "x", "field_updates": [{"id": 9, "value": "closed"}]}, "validation_error"),
        ({"field_updates": [{"id": 5, "value": {"choice_ids": [42]}}]}, "validation_error"),
        ({"text": "x", "action": "deleted"}, "validation_error"),
    ],
)
def test_comment_validation(api: httpx.Client, body: object, code: str) -> None:
    response = api.post("tasks/201500006/comments", json=body)
    assert (response.status_code, response.json()["error_code"]) == (400, code)
    assert len(api.get("tasks/201500006").json()["task"]["comments"]) == 1  # nothing stored


def test_env_points_kb_settings_at_the_sandbox(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.settings import FlowSettings

    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    settings = FlowSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.pyrus_auth_url == sandbox.pyrus_auth_url
    assert settings.pyrus_form_ids == [FORM]
    assert settings.pyrus_draft_field_id == 14
    assert settings.confluence_spaces == ["SUP", "KB"]
    assert settings.confluence_url == sandbox.confluence_url
    key = settings.pyrus_security_key
    assert key is not None
    assert key.get_secret_value() == KEY


def test_comment_updating_a_field_inside_a_title(api: httpx.Client) -> None:
    body = {"field_updates": [{"id": 3, "value": "new@client-mail.example"}]}
    task = api.post("tasks/201500006/comments", json=body).json()["task"]
    title = next(f for f in task["fields"] if f["id"] == 17)
    children = {c["id"]: c.get("value") for c in title["value"]["fields"]}
    assert children == {3: "new@client-mail.example", 4: None}
