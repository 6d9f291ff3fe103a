"""Shape test: the official `pyrus-api` client models parse every emulator response.

Two ways: the raw JSON of each response through `pyrus.models.responses.*`, and the
official `PyrusAPI` client itself pointed at the emulator (auth → api_url → calls).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pyrus import client as pyrus_client
from pyrus.models import entities, requests, responses

from sample_data.emulators.sandbox import Sandbox, start_sandbox

MINI = Path(__file__).parent / "fixtures" / "mini_dataset"
SAMPLES = Path(__file__).resolve().parents[2] / "docs/samples/pyrus"
LOGIN, KEY = "bot@mini-test", "mini-key"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with start_sandbox(MINI, pyrus_login=LOGIN, pyrus_key=KEY) as box:
        yield box


def _ok(model: Any) -> Any:
    assert model.error_code is None, model.original_response
    return model


def test_raw_responses_parse_with_the_official_models(sandbox: Sandbox) -> None:
    credentials = {"login": LOGIN, "security_key": KEY}
    answer = httpx.post(sandbox.pyrus_auth_url, json=credentials).json()
    auth = _ok(responses.AuthResponse(**answer))
    assert auth.success
    assert auth.api_url == sandbox.pyrus_api_url
    headers = {"Authorization": f"Bearer {auth.access_token}"}
    with httpx.Client(base_url=auth.api_url, headers=headers) as api:
        forms = _ok(responses.FormsResponse(**api.get("forms").json()))
        assert forms.forms[0].name == "Обращения в поддержку"
        form = _ok(responses.FormResponse(**api.get("forms/321456").json()))
        assert {f.id for f in form.fields} >= {1, 2, 5, 14}
        listed = api.get("forms/321456/register", params={"include_archived": "y"}).json()
        register = _ok(responses.FormRegisterResponse(**listed))
        assert len(register.tasks) == 5
        for task_id in (t.id for t in register.tasks):
            task = _ok(responses.TaskResponse(**api.get(f"tasks/{task_id}").json())).task
            assert task.comments
            assert task.fields
        members = _ok(responses.MembersResponse(**api.get("members").json()))
        assert any(m.type == "bot" for m in members.members)
        request_body = json.loads((SAMPLES / "comment-request.json").read_text())
        answer = api.post("tasks/201500003/comments", json=request_body).json()
        task = _ok(responses.TaskResponse(**answer)).task
        assert task.comments[-1].text.startswith("Рекомендация для сотрудника (ИИ)")
        error = responses.TaskResponse(**api.get("tasks/1").json())
        assert error.error_code == "task_not_found"


@pytest.mark.filterwarnings("ignore:keys will default to True in jsonpickle")
def test_the_official_client_works_against_the_emulator(sandbox: Sandbox) -> None:
    api = pyrus_client.PyrusAPI(login=LOGIN, security_key=KEY)
    api._protocol = "http"  # the client only knows https hosts; point it at 127.0.0.1
    api._auth_host = sandbox.pyrus_url.removeprefix("http://") + "/api"
    assert _ok(api.auth()).success
    assert _ok(api.get_form(321456)).name == "Обращения в поддержку"
    register_request = requests.FormRegisterRequest(
        include_archived=True,
        modified_after=datetime(2026, 11, 18, tzinfo=UTC),
        field_ids=[1, 5],
        item_count=10,
        sort=entities.FormRegisterSort("id"),
        filters=[entities.GreaterThanTaskIdFilter(201500002)],
    )
    register = _ok(api.get_registry(321456, register_request))
    assert [t.id for t in register.tasks] == [201500003, 201500005]
    assert [f.id for f in register.tasks[0].fields] == [1, 5]
    comment = requests.TaskCommentRequest(
        text="Рекомендация (ИИ): проверьте прокси.",
        field_updates=[entities.FormField(id=14, value="Здравствуйте! Проверьте прокси.")],
        approval_choice="approved",
    )
    task = _ok(api.comment_task(201500003, comment)).task
    assert task.current_step == 2
    assert task.comments[-1].field_updates[0].value == "Здравствуйте! Проверьте прокси."
    assert _ok(api.get_task(201500003)).task.last_note_id == task.comments[-1].id
