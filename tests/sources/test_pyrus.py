"""PyrusClient and the shared retry policy over httpx.MockTransport with the reference samples."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.sources.http import HttpStatusError, RetryableError, RetryPolicy, TruncatedResponse
from assistant.sources.pyrus import PyrusAuthError, PyrusClient, TaskNotFound
from assistant.sources.pyrus_records import parse_pyrus_datetime
from assistant.sources.pyrus_tokens import forget_cached_tokens

FIXTURES = Path(__file__).parent / "fixtures" / "pyrus"
AUTH_URL = "https://accounts.pyrus.test/api/v4/auth"


def sample(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> Iterator[None]:
    forget_cached_tokens()
    yield
    forget_cached_tokens()


class Recorder:
    """A MockTransport handler: scripted answers per path, every request kept."""

    def __init__(self, route: Callable[[httpx.Request, int], httpx.Response]) -> None:
        self.route = route
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/auth"):
            return httpx.Response(200, json=sample("auth-response.json"))
        return self.route(request, len(self.requests))

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def client(handler: Recorder, sleeps: list[float] | None = None, **kwargs: Any) -> PyrusClient:
    sink = sleeps if sleeps is not None else []
    policy = RetryPolicy(max_attempts=4, sleep=sink.append)
    return PyrusClient(
        "bot@test", "key", auth_url=AUTH_URL, policy=policy,
        transport=httpx.MockTransport(handler), **kwargs,
    )  # fmt: skip


def test_register_pages_by_id_with_filters_until_a_short_page() -> None:
    tasks = sample("form-register-response.json")["tasks"]
    seen_params: list[dict[str, str]] = []

    def route(request: httpx.Request, _: int) -> httpx.Response:
        params = dict(request.url.params)
        seen_params.append(params)
        after = int(params["id"].removeprefix("gt"))
        page = [t for t in tasks if t["id"] > after][: int(params["item_count"])]
        return httpx.Response(200, json={"tasks": page})

    handler = Recorder(route)
    pyrus = client(handler)
    since = datetime(2026, 11, 19, 0, 0, 5, 123000, tzinfo=UTC)
    pages = list(
        pyrus.register_pages(321456, page_size=2, modified_after=since, include_archived=True)
    )
    assert [[t.id for t in page] for page in pages] == [
        sorted(t["id"] for t in tasks)[:2],
        sorted(t["id"] for t in tasks)[2:],
    ]
    assert seen_params[0] == {
        "sort": "id", "id": "gt0", "item_count": "2", "include_archived": "y",
        "modified_after": "2026-11-19T00:00:05Z",
    }  # fmt: skip
    assert seen_params[1]["id"] == f"gt{pages[0][-1].id}"
    first = next(t for t in pages[0] if t.id == 201534789)
    assert first.modified_at == datetime(2026, 11, 20, 12, 15, 40, tzinfo=UTC)
    # the api_url from the auth answer is used for every call
    assert {r.url.host for r in handler.requests[1:]} == {"api.pyrus.com"}


def test_get_task_returns_the_full_payload_and_404_is_task_not_found() -> None:
    task = sample("task-with-comments.json")

    def route(request: httpx.Request, _: int) -> httpx.Response:
        if request.url.path.endswith(f"/tasks/{task['task']['id']}"):
            return httpx.Response(200, json=task)
        return httpx.Response(404, json={"error": "Задача не найдена.", "error_code": "not_found"})

    handler = Recorder(route)
    pyrus = client(handler)
    payload = pyrus.get_task(task["task"]["id"])
    assert payload == task["task"]
    assert len(payload["comments"]) == 7
    assert handler.requests[1].headers["Authorization"].startswith("Bearer eyJ")
    with pytest.raises(TaskNotFound) as info:
        pyrus.get_task(1)
    assert info.value.status == 404


def test_token_is_cached_per_credential_across_clients() -> None:
    handler = Recorder(lambda r, n: httpx.Response(200, json={"forms": []}))
    client(handler).forms()
    client(handler).forms()
    assert handler.paths().count("/api/v4/auth") == 1
    other = PyrusClient(
        "other@test", "key2", auth_url=AUTH_URL, transport=httpx.MockTransport(handler)
    )
    other.forms()
    assert handler.paths().count("/api/v4/auth") == 2


def test_one_reauth_on_expired_token_then_success() -> None:
    def route(request: httpx.Request, n: int) -> httpx.Response:
        if n == 2:
            return httpx.Response(401, json={"error": "expired", "error_code": "expired_token"})
        return httpx.Response(200, json={"forms": [{"id": 1, "name": "f"}]})

    handler = Recorder(route)
    assert client(handler).forms() == [{"id": 1, "name": "f"}]
    assert handler.paths() == ["/api/v4/auth", "/v4/forms", "/api/v4/auth", "/v4/forms"]


def test_a_second_401_is_an_auth_error_not_a_loop() -> None:
    handler = Recorder(
        lambda r, n: httpx.Response(401, json={"error": "no", "error_code": "revoked_token"})
    )
    with pytest.raises(PyrusAuthError, match="revoked_token"):
        client(handler).forms()
    assert handler.paths().count("/api/v4/auth") == 2
    assert len(handler.requests) == 4


def test_bad_credentials_fail_with_the_setting_names() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401, json={"error": "Invalid login/secret_key.", "error_code": "invalid_credentials"}
        )

    pyrus = PyrusClient("x", "y", auth_url=AUTH_URL, transport=httpx.MockTransport(handler))
    with pytest.raises(PyrusAuthError, match="PYRUS_SECURITY_KEY"):
        pyrus.forms()


def test_429_waits_for_the_reset_and_counts() -> None:
    def route(request: httpx.Request, n: int) -> httpx.Response:
        if n == 2:
            return httpx.Response(
                429, json=sample("error-response.json"), headers={"X-RateLimit-Reset": "7"}
            )
        return httpx.Response(200, json={"forms": []})

    sleeps: list[float] = []
    pyrus = client(Recorder(route), sleeps)
    assert pyrus.forms() == []
    assert sleeps == [7.0]
    assert pyrus.stats.rate_limited == 1
    assert pyrus.stats.snapshot()["by_kind"] == {"auth": 1, "forms": 2}


def test_remaining_zero_pauses_before_the_next_request() -> None:
    def route(request: httpx.Request, n: int) -> httpx.Response:
        headers = {"X-RateLimit-Remaining": "0" if n == 2 else "10", "X-RateLimit-Reset": "30"}
        return httpx.Response(200, json={"forms": []}, headers=headers)

    sleeps: list[float] = []
    pyrus = client(Recorder(route), sleeps)
    pyrus.forms()
    pyrus.forms()
    assert len(sleeps) == 1
    assert 25 < sleeps[0] <= 30


@pytest.mark.parametrize(
    "failure",
    [
        lambda r: httpx.Response(502, text="<html>bad gateway</html>"),
        lambda r: httpx.Response(503, headers={"Retry-After": "2"}),
        lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=r)),
        lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused", request=r)),
        lambda r: httpx.Response(200, content=b'{"forms": [{"id": 1, "na'),
    ],
    ids=["502", "503-retry-after", "timeout", "connect-error", "truncated-json"],
)
def test_transient_failures_are_retried(failure: Callable[[httpx.Request], httpx.Response]) -> None:
    def route(request: httpx.Request, n: int) -> httpx.Response:
        return failure(request) if n in (2, 3) else httpx.Response(200, json={"forms": []})

    sleeps: list[float] = []
    pyrus = client(Recorder(route), sleeps)
    assert pyrus.forms() == []
    assert len(sleeps) == 2
    assert pyrus.stats.retries == 2


def test_persistent_truncation_is_a_clear_retryable_error() -> None:
    route = lambda r, n: httpx.Response(200, content=b'{"tasks": [{"id"')  # noqa: E731
    with pytest.raises(TruncatedResponse, match="truncated or invalid JSON"):
        client(Recorder(route)).forms()
    assert issubclass(TruncatedResponse, RetryableError)


def test_other_4xx_are_not_retried() -> None:
    handler = Recorder(
        lambda r, n: httpx.Response(403, json={"error": "no", "error_code": "access_denied_form"})
    )
    with pytest.raises(HttpStatusError, match="access_denied_form") as info:
        list(client(handler).register_pages(1))
    assert info.value.status == 403
    assert len(handler.requests) == 2  # auth + one register call


def test_malformed_dates_and_unknown_field_types_survive() -> None:
    task = copy.deepcopy(sample("task-with-comments.json"))
    task["task"]["last_modified_date"] = "2026-13-45T99:00:00Z"
    task["task"]["fields"].append({"id": 99, "type": "hologram", "value": {"x": [1, {"y": 2}]}})
    pyrus = client(Recorder(lambda r, n: httpx.Response(200, json=task)))
    payload = pyrus.get_task(task["task"]["id"])
    assert payload["fields"][-1]["type"] == "hologram"
    assert parse_pyrus_datetime(payload["last_modified_date"]) is None
    assert parse_pyrus_datetime("2026-11-20T12:15:40Z") == datetime(
        2026, 11, 20, 12, 15, 40, tzinfo=UTC
    )
    assert parse_pyrus_datetime(None) is None


def test_a_task_without_id_is_a_shape_error_not_a_crash() -> None:
    pyrus = client(Recorder(lambda r, n: httpx.Response(200, json={"task": {"text": "x"}})))
    with pytest.raises(Exception, match="unexpected shape"):
        pyrus.get_task(5)


def test_the_token_file_is_shared_between_processes(tmp_path: Path) -> None:
    handler = Recorder(lambda r, n: httpx.Response(200, json={"forms": []}))
    client(handler, token_cache_dir=tmp_path).forms()
    files = list(tmp_path.glob("pyrus-token-*.json"))
    assert len(files) == 1
    assert files[0].stat().st_mode & 0o777 == 0o600
    assert "key" not in files[0].read_text(encoding="utf-8")  # the token, not the secret
    forget_cached_tokens()  # what a second process sees: no memory, only the file
    client(handler, token_cache_dir=tmp_path).forms()
    assert handler.paths().count("/api/v4/auth") == 1


def test_a_stale_token_file_is_replaced_after_one_401(tmp_path: Path) -> None:
    def route(request: httpx.Request, n: int) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer old":
            return httpx.Response(401, json={"error": "x", "error_code": "expired_token"})
        return httpx.Response(200, json={"forms": []})

    first = client(Recorder(route), token_cache_dir=tmp_path)
    stale = first._tokens.path
    assert stale is not None
    stale.write_text(json.dumps({"access_token": "old", "api_url": "https://api.pyrus.com/v4/"}))
    handler = Recorder(route)
    client(handler, token_cache_dir=tmp_path).forms()
    assert handler.paths() == ["/v4/forms", "/api/v4/auth", "/v4/forms"]
    assert "old" not in stale.read_text(encoding="utf-8")


def test_a_configured_api_url_wins_over_the_shared_tokens_host() -> None:
    """The bot and the extract share tokens; a token cached with the cloud's host must not
    send a client configured for another host (PYRUS_API_URL) there."""
    handler = Recorder(lambda r, n: httpx.Response(200, json={"forms": []}))
    client(handler).forms()
    client(handler, api_url="https://pyrus.example.test/api/v4/").forms()
    assert handler.paths().count("/api/v4/auth") == 1
    assert handler.requests[-1].url.host == "pyrus.example.test"


def test_a_callers_expired_token_gives_way_to_the_shared_one() -> None:
    """The bot calls with the webhook's token; on its 401 the shared token is used."""

    def route(request: httpx.Request, n: int) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer webhook-token":
            return httpx.Response(401, json={"error": "expired", "error_code": "expired_token"})
        return httpx.Response(200, json={"task": {"id": 7}})

    handler = Recorder(route)
    assert client(handler).call("GET", "tasks/7", token="webhook-token") == {"task": {"id": 7}}
    assert handler.paths().count("/api/v4/auth") == 1
    assert len(handler.requests) == 3  # webhook token, auth, shared token
