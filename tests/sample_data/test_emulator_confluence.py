"""The Confluence emulator: auth, CQL, paging, expand, deletions over time, 429."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sample_data.emulators.sandbox import Sandbox, start_sandbox

MINI = Path(__file__).parent / "fixtures" / "mini_dataset"
SAMPLES = Path(__file__).resolve().parents[2] / "docs/samples/confluence"
PAT = "mini-pat"
SEARCH = "/rest/api/content/search"
EXPAND = "body.storage,version,space,ancestors,metadata.labels,history"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with start_sandbox(
        MINI,
        confluence_token=PAT,
        cloud_user="svc@example.ru",
        cloud_api_token="cloud-token",
        confluence_rate_limit=50,
    ) as box:
        yield box


@pytest.fixture
def wiki(sandbox: Sandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {PAT}", "Accept": "application/json"}
    with httpx.Client(base_url=sandbox.confluence_url, headers=headers) as client:
        yield client


def _search(wiki: httpx.Client, cql: str, **params: object) -> list[str]:
    response = wiki.get(SEARCH, params={"cql": cql, **params})
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["results"]]


def test_auth_bearer_pat_and_cloud_basic(sandbox: Sandbox) -> None:
    url = sandbox.confluence_url + "/rest/api/space"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    basic = base64.b64encode(b"svc@example.ru:cloud-token").decode()
    cloud = httpx.get(
        sandbox.confluence_url + "/wiki/rest/api/space", headers={"Authorization": f"Basic {basic}"}
    )
    assert cloud.status_code == 200
    assert cloud.json()["_links"]["base"] == sandbox.confluence_url + "/wiki"
    keys = [s["key"] for s in cloud.json()["results"]]
    assert keys == ["KB", "OPS", "SUP"]


def test_cql_space_type_lastmodified_and_order(wiki: httpx.Client) -> None:
    everything = 'space in ("SUP","KB") and type = page order by lastmodified asc'
    assert _search(wiki, everything) == ["65538", "884802", "884999", "884736"]
    assert _search(wiki, "space = KB and type = page") == ["884999"]
    recent = 'space = "SUP" and type = page and lastmodified >= "2026-11-19 12:00" order by id'
    assert _search(wiki, recent) == ["884736"]  # 12:00 +03:00 is the version's own minute
    later = 'space = "SUP" and type = page and lastmodified > "2026-11-19 12:01"'
    assert _search(wiki, later) == []


def test_bad_cql_is_a_400(wiki: httpx.Client) -> None:
    for cql in ("space = SUP or space = KB", 'lastmodified >= now("-1d")', "title ~ vpn"):
        response = wiki.get(SEARCH, params={"cql": cql})
        assert response.status_code == 400, cql


def test_paging_follows_links_next_like_the_samples(wiki: httpx.Client) -> None:
    cql = 'space in ("SUP","KB") and type = page order by id'
    url, seen, pages = (
        f"{SEARCH}?" + str(httpx.QueryParams(cql=cql, expand=EXPAND, limit=2)),
        [],
        [],
    )
    while True:
        body = wiki.get(url).json()
        pages.append(body)
        seen += [r["id"] for r in body["results"]]
        if "next" not in body["_links"]:
            break
        url = body["_links"]["base"] + body["_links"]["next"]
    assert seen == ["65538", "884736", "884802", "884999"]
    assert [(p["start"], p["limit"], p["size"]) for p in pages] == [(0, 2, 2), (2, 2, 2)]
    sample = json.loads((SAMPLES / "dc-content-search-last-page.json").read_text())
    assert set(pages[-1]) == set(sample)
    assert set(pages[-1]["_links"]) == set(sample["_links"])
    assert pages[0]["_links"]["next"].startswith(f"{SEARCH}?cql=")


def test_expand_renders_the_sample_shape(wiki: httpx.Client) -> None:
    cql = "space = SUP and id = 884736"
    result = wiki.get(SEARCH, params={"cql": cql, "expand": EXPAND}).json()["results"][0]
    sample = json.loads((SAMPLES / "dc-content-search-page1.json").read_text())["results"][0]
    assert set(result) == set(sample)
    for key in ("version", "body", "space", "history", "metadata"):
        assert set(result[key]) == set(sample[key]), key
    assert result["version"]["number"] == 2
    assert result["version"]["by"]["displayName"] == "Ирина Петрова"
    assert result["body"]["storage"]["representation"] == "storage"
    assert [a["title"] for a in result["ancestors"]] == ["База знаний поддержки"]
    assert [lb["name"] for lb in result["metadata"]["labels"]["results"]] == ["vpn", "диагностика"]
    bare = wiki.get(SEARCH, params={"cql": cql}).json()["results"][0]
    assert "body" not in bare
    assert "body" in bare["_expandable"]


def test_server_caps_the_page_size(wiki: httpx.Client) -> None:
    cql = "type = page"
    with_body = wiki.get(SEARCH, params={"cql": cql, "limit": 500, "expand": "body.storage"})
    assert with_body.json()["limit"] == 50
    assert wiki.get(SEARCH, params={"cql": cql, "limit": 5000}).json()["limit"] == 1000


def test_clock_advance_shows_update_new_page_and_deletion(
    sandbox: Sandbox, wiki: httpx.Client
) -> None:
    cql = 'space in ("SUP","KB") and type = page order by id'
    assert wiki.get("/rest/api/content/884802").status_code == 200
    sandbox.clock.advance(days=1)
    assert _search(wiki, cql) == ["65538", "884736", "884999", "885100"]
    page = wiki.get("/rest/api/content/884736", params={"expand": "version"}).json()
    assert page["version"]["number"] == 3
    assert wiki.get("/rest/api/content/884802").status_code == 404
    trashed = wiki.get("/rest/api/content/884802", params={"status": "trashed"})
    assert trashed.json()["status"] == "trashed"
    trash = wiki.get("/rest/api/content", params={"spaceKey": "SUP", "status": "trashed"})
    assert [r["id"] for r in trash.json()["results"]] == ["884802"]
    assert wiki.get("/rest/api/content/885200", params={"status": "any"}).status_code == 404


def test_rate_limit_gives_429_with_retry_after(sandbox: Sandbox, wiki: httpx.Client) -> None:
    sandbox.confluence.rate_limiter.limit = 2
    first = wiki.get("/rest/api/space")
    assert first.headers["X-RateLimit-Remaining"] == "1"
    wiki.get("/rest/api/space")
    limited = wiki.get("/rest/api/space")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.json() == {"message": "Too many requests. Slow down and try again later."}


def test_faults_and_log(sandbox: Sandbox, wiki: httpx.Client) -> None:
    sandbox.confluence.faults.fail_next(1, status=504, path_prefix=SEARCH)
    assert wiki.get(SEARCH, params={"cql": "type = page"}).status_code == 504
    assert wiki.get(SEARCH, params={"cql": "type = page"}).status_code == 200
    assert sandbox.confluence.log.count("GET", SEARCH) == 2


def test_cloud_paths_page_with_a_cursor(sandbox: Sandbox) -> None:
    basic = base64.b64encode(b"svc@example.ru:cloud-token").decode()
    headers = {"Authorization": f"Basic {basic}"}
    params = {"cql": "type = page order by id", "limit": 3}
    url, seen = f"{sandbox.confluence_url}/wiki{SEARCH}", []
    body = httpx.get(url, params=params, headers=headers).json()
    while True:
        seen += [r["id"] for r in body["results"]]
        if "next" not in body["_links"]:
            break
        assert "cursor=" in body["_links"]["next"]
        body = httpx.get(body["_links"]["base"] + body["_links"]["next"], headers=headers).json()
    assert seen == ["65538", "884736", "884802", "884999", "885300"]
