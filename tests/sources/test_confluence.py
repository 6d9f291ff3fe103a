"""ConfluenceClient over httpx.MockTransport with the reference DC samples."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.sources.confluence import (
    ConfluenceAuthError,
    ConfluenceClient,
    cql_literal,
    page_record,
    pages_cql,
)
from assistant.sources.http import RetryPolicy

FIXTURES = Path(__file__).parent / "fixtures" / "confluence"


def sample(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def make(handler: Any, sleeps: list[float] | None = None, **kwargs: Any) -> ConfluenceClient:
    options: dict[str, Any] = {"pat": "pat-123"} | kwargs
    return ConfluenceClient(
        options.pop("base_url", "https://wiki.example.ru"),
        policy=RetryPolicy(max_attempts=4, sleep=(sleeps if sleeps is not None else []).append),
        transport=httpx.MockTransport(handler),
        **options,
    )


def test_cql_literal_is_minute_precision_in_the_account_zone() -> None:
    moment = datetime(2026, 11, 20, 9, 59, 59, tzinfo=UTC)
    assert cql_literal(moment, "Europe/Moscow") == "2026-11-20 12:59"
    assert cql_literal(moment, "UTC") == "2026-11-20 09:59"
    assert pages_cql(["SUP", "KB"], since=moment, timezone="Europe/Moscow") == (
        'space in ("SUP", "KB") and type = page and lastmodified >= "2026-11-20 12:59" '
        "order by lastmodified asc"
    )
    assert pages_cql(["SUP"], since=None, timezone="UTC") == (
        'space in ("SUP") and type = page order by lastmodified asc'
    )
    with pytest.raises(ValueError, match="CONFLUENCE_SPACES"):
        pages_cql([], since=None, timezone="UTC")


def test_dc_paging_follows_next_with_start_rebuilt_from_results() -> None:
    first, last = sample("dc-content-search-page1.json"), sample("dc-content-search-last-page.json")
    # the DC bug: next advances by the *requested* limit (100), though 2 rows came back
    first["_links"]["next"] = first["_links"]["next"].replace("start=2", "start=100")
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json=first if len(requests) == 1 else last)

    client = make(handler)
    since = datetime(2024, 5, 13, 3, 0, tzinfo=UTC)
    pages = list(client.changed_pages(["SUP"], since=since))
    assert [len(page) for page in pages] == [2, 1]
    assert requests[0].url.path == "/rest/api/content/search"
    assert requests[0].headers["Authorization"] == "Bearer pat-123"
    assert requests[0].headers["Accept"] == "application/json"
    params = requests[0].url.params
    assert params["expand"] == "body.storage,version,ancestors,metadata.labels,space"
    assert 'lastmodified >= "2024-05-13 03:00"' in params["cql"]
    assert requests[1].url.params["start"] == "2"
    record = page_record(pages[0][0])
    assert (record.id, record.space.key, record.version.number) == ("884736", "SUP", 7)  # type: ignore[union-attr]
    assert record.modified_at == datetime(2024, 5, 13, 13, 40, 12, 331000, tzinfo=UTC)


def test_cloud_uses_basic_auth_wiki_root_and_the_cursor_verbatim() -> None:
    requests: list[httpx.Request] = []
    cursor_next = (
        "/rest/api/content/search?next=true&cursor=_f_NTA%3D_sa_x&limit=50&cql=type%3Dpage"
    )

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if len(requests) == 1:
            links = {"next": cursor_next, "base": "https://acme.atlassian.net/wiki"}
            body = {"results": [{"id": "1"}], "start": 0, "limit": 50, "_links": links}
        else:
            body = {"results": [{"id": "2"}, {"id": "1"}], "_links": {}}
        return httpx.Response(200, json=body)

    client = make(
        handler,
        pat=None,
        user="bot@acme.ru",
        api_token="tok",
        base_url="https://acme.atlassian.net",
    )
    assert client.current_page_ids(["SUP"]) == {"1", "2"}
    assert requests[0].url.path == "/wiki/rest/api/content/search"
    assert "expand" not in requests[0].url.params
    expected = base64.b64encode(b"bot@acme.ru:tok").decode()
    assert requests[0].headers["Authorization"] == f"Basic {expected}"
    assert str(requests[1].url) == "https://acme.atlassian.net/wiki" + cursor_next


def test_429_honours_retry_after_and_stops_on_empty_results() -> None:
    sample_429 = sample("error-429-rate-limited.json")["data_center"]
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(429, json=sample_429["body"], headers=sample_429["headers"])
        # `next` present with empty results must still end the listing
        return httpx.Response(200, json={"results": [], "start": 0, "_links": {"next": "/x"}})

    sleeps: list[float] = []
    client = make(handler, sleeps)
    assert list(client.changed_pages(["SUP"], since=None)) == []
    assert sleeps == [4.0]
    assert client.stats.rate_limited == 1
    assert len(calls) == 2


def test_401_is_an_auth_error_without_retries() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(401, json={"message": "Client must be authenticated"})

    with pytest.raises(ConfluenceAuthError, match="401"):
        make(handler).current_page_ids(["SUP"])
    assert len(calls) == 1


def test_configuration_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="CONFLUENCE_TOKEN"):
        ConfluenceClient("https://wiki.example.ru")
    with pytest.raises(LookupError):
        ConfluenceClient("https://wiki.example.ru", pat="x", timezone="Mars/Olympus")


def test_cloud_basic_auth_against_the_emulator_with_faults() -> None:
    from sample_data.emulators.sandbox import start_sandbox

    mini = Path(__file__).parents[1] / "sample_data" / "fixtures" / "mini_dataset"
    with start_sandbox(mini, cloud_user="bot@acme.ru", cloud_api_token="tok") as sandbox:
        sandbox.confluence.faults.fail_next(1, status=503, path_prefix="/wiki/rest/api")
        sandbox.confluence.faults.truncate_next(1, path_prefix="/wiki/rest/api")
        sleeps: list[float] = []
        client = ConfluenceClient(
            sandbox.confluence_url,
            user="bot@acme.ru",
            api_token="tok",
            timezone="Europe/Moscow",
            page_limit=2,
            policy=RetryPolicy(max_attempts=4, sleep=sleeps.append),
        )
        pages = [
            page for batch in client.changed_pages(sandbox.spaces, since=None) for page in batch
        ]
        ids = client.current_page_ids(sandbox.spaces)
    assert sorted(p["id"] for p in pages) == ["65538", "884736", "884802", "884999"]
    assert ids == {"65538", "884736", "884802", "884999"}
    assert client.stats.retries == 2
    assert len(sleeps) == 2
    assert all(page["body"]["storage"]["value"] for page in pages)


def test_a_page_that_keeps_failing_is_asked_again_with_half_the_limit() -> None:
    limits: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params["limit"])
        limits.append(limit)
        if limit > 12:
            return httpx.Response(504, text="gateway timeout")
        start = int(request.url.params.get("start", 0))
        rows = [{"id": str(i)} for i in range(start, min(start + limit, 20))]
        links: dict[str, str] = {"base": "https://wiki.example.ru"}
        if start + limit < 20:
            links["next"] = f"/rest/api/content/search?cql=x&limit={limit}&start={start + limit}"
        return httpx.Response(200, json={"results": rows, "start": start, "_links": links})

    client = make(handler, page_limit=50)
    client.policy.max_attempts = 2
    pages = list(client.changed_pages(["SUP"], since=None))
    assert sum(len(page) for page in pages) == 20
    assert limits[:5] == [50, 50, 25, 25, 12]
    assert set(limits[5:]) == {12}
