"""Confluence REST v1 client for the extract (Data Center and Cloud).

Changed pages come from CQL `content/search` with a `lastmodified >=` literal. That
literal has minute precision and is read in the service account's time zone, so the
caller passes an overlapped watermark and we render it in the configured zone.
Paging follows `_links.next`; on Data Center `start` is recomputed from what actually
came back (DC caps body-expanded pages at 50 but advances `next` by the requested
limit). Deletions never show up in CQL, hence `current_page_ids` for a full sweep.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from assistant.sources.http import (
    HttpStatusError,
    RequestStats,
    RetryableError,
    RetryPolicy,
    error_details,
    send,
)

logger = logging.getLogger(__name__)

PAGE_EXPAND = "body.storage,version,ancestors,metadata.labels,space"
MIN_PAGE_LIMIT = 5


@dataclass(frozen=True)
class SearchCursor:
    """Where the next search page is: the first URL with params, then `_links.next`."""

    url: str
    params: dict[str, Any] | None

    @property
    def limit(self) -> int | None:
        raw = (self.params or {}).get("limit") or httpx.URL(self.url).params.get("limit")
        return int(raw) if raw is not None else None

    def with_limit(self, limit: int) -> SearchCursor:
        if self.params is not None:
            return SearchCursor(self.url, {**self.params, "limit": limit})
        return SearchCursor(str(httpx.URL(self.url).copy_set_param("limit", str(limit))), None)


class ConfluenceAuthError(HttpStatusError):
    """401/403: the PAT or API token is wrong, expired or lacks View on the space."""


class SpaceRef(BaseModel):
    model_config = ConfigDict(extra="allow")
    key: str


class VersionRef(BaseModel):
    model_config = ConfigDict(extra="allow")
    number: int
    when: str | None = None


class PageRecord(BaseModel):
    """The keys of a content-search result the loader reads; the payload stays a dict."""

    model_config = ConfigDict(extra="allow")

    id: str
    title: str | None = None
    status: str | None = None
    space: SpaceRef | None = None
    version: VersionRef | None = None

    @property
    def modified_at(self) -> datetime | None:
        return parse_confluence_datetime(self.version.when if self.version else None)


def parse_confluence_datetime(value: object) -> datetime | None:
    """`2024-05-13T16:40:12.331+03:00` (DC) or `…Z` (Cloud) as aware UTC; junk → None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def cql_literal(moment: datetime, timezone: str) -> str:
    """A CQL date literal: `moment` in the account's zone, floored to the minute."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def pages_cql(spaces: list[str], *, since: datetime | None, timezone: str) -> str:
    """`space in (…) and type = page [and lastmodified >= "…"] order by lastmodified asc`."""
    if not spaces:
        raise ValueError("CONFLUENCE_SPACES is empty: name at least one space key")
    clauses = [f"space in ({', '.join(_quote(space) for space in spaces)})", "type = page"]
    if since is not None:
        clauses.append(f"lastmodified >= {_quote(cql_literal(since, timezone))}")
    return " and ".join(clauses) + " order by lastmodified asc"


class ConfluenceClient:
    """DC: PAT as Bearer on `/rest/api`. Cloud: Basic email:token on `/wiki/rest/api`."""

    def __init__(
        self,
        base_url: str,
        *,
        pat: str | None = None,
        user: str | None = None,
        api_token: str | None = None,
        timezone: str = "UTC",
        policy: RetryPolicy | None = None,
        stats: RequestStats | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 90.0,
        page_limit: int = 50,
        id_page_limit: int = 1000,
    ) -> None:
        base = base_url.rstrip("/")
        headers = {"Accept": "application/json"}
        if user and api_token:
            self.is_cloud = True
            self.site_base = base if base.endswith("/wiki") else base + "/wiki"
            basic = base64.b64encode(f"{user}:{api_token}".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
        elif pat:
            self.is_cloud = False
            self.site_base = base
            headers["Authorization"] = f"Bearer {pat}"
        else:
            raise ValueError(
                "Confluence needs CONFLUENCE_TOKEN (Data Center PAT) or "
                "CONFLUENCE_USER + CONFLUENCE_API_TOKEN (Cloud)"
            )
        ZoneInfo(timezone)  # fail fast on a bad zone name
        self.timezone = timezone
        self.api_root = self.site_base + "/rest/api"
        self.page_limit = page_limit
        self.id_page_limit = id_page_limit
        self.policy = policy or RetryPolicy()
        self.stats = stats or RequestStats()
        self._http = httpx.Client(
            transport=transport, timeout=httpx.Timeout(timeout, connect=10.0), headers=headers
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ConfluenceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, url: str, *, kind: str, params: dict[str, Any] | None = None) -> Any:
        response, body = send(
            self._http, "GET", url, policy=self.policy, stats=self.stats, kind=kind, params=params
        )
        if body is not None:
            return body
        code, message = error_details(response)
        error_class = ConfluenceAuthError if response.status_code in (401, 403) else HttpStatusError
        raise error_class(
            f"Confluence GET {url}: HTTP {response.status_code} {message}".strip(),
            status=response.status_code,
            error_code=code,
        )

    def first_cursor(self, cql: str, *, expand: str | None, limit: int) -> SearchCursor:
        params: dict[str, Any] = {"cql": cql, "limit": limit}
        if expand:
            params["expand"] = expand
        return SearchCursor(self.api_root + "/content/search", params)

    def search_page(self, cursor: SearchCursor) -> tuple[list[dict[str, Any]], SearchCursor | None]:
        """One page of `content/search` and the cursor of the next (None at the end).

        When a page keeps failing (heavy bodies make Confluence answer 5xx or time out),
        ask again for half as many rows, down to `MIN_PAGE_LIMIT`, before giving up.
        """
        try:
            body = self._get(cursor.url, kind="search", params=cursor.params)
        except RetryableError:
            limit = cursor.limit
            if limit is None or limit <= MIN_PAGE_LIMIT:
                raise
            smaller = max(MIN_PAGE_LIMIT, limit // 2)
            logger.warning("Confluence search keeps failing at limit %d; trying %d", limit, smaller)
            return self.search_page(cursor.with_limit(smaller))
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise HttpStatusError(f"Confluence search: no results list ({cursor.url})", status=200)
        links = body.get("_links") or {}
        next_link = links.get("next")
        if not next_link or not results:
            return results, None
        base = (links.get("base") or self.site_base).rstrip("/")
        next_url = httpx.URL(base + next_link)
        if not self.is_cloud:
            start = int(body.get("start") or 0) + len(results)
            next_url = next_url.copy_set_param("start", str(start))
        return results, SearchCursor(str(next_url), None)

    def search(self, cql: str, *, expand: str | None, limit: int) -> Iterator[list[dict[str, Any]]]:
        """Pages of `content/search` results, deduplicated by id across pages."""
        cursor: SearchCursor | None = self.first_cursor(cql, expand=expand, limit=limit)
        seen: set[str] = set()
        while cursor is not None:
            results, cursor = self.search_page(cursor)
            fresh = [r for r in results if isinstance(r, dict) and str(r.get("id")) not in seen]
            seen.update(str(r.get("id")) for r in fresh)
            if fresh:
                yield fresh

    def changed_pages(
        self, spaces: list[str], *, since: datetime | None
    ) -> Iterator[list[dict[str, Any]]]:
        """Full page payloads modified at or after `since` (everything when None)."""
        cql = pages_cql(spaces, since=since, timezone=self.timezone)
        logger.info("Confluence CQL: %s", cql)
        yield from self.search(cql, expand=PAGE_EXPAND, limit=self.page_limit)

    def current_page_ids(self, spaces: list[str]) -> set[str]:
        """Ids of every current page in the spaces (no bodies): the deletion sweep."""
        ids: set[str] = set()
        cql = pages_cql(spaces, since=None, timezone=self.timezone)
        for page in self.search(cql, expand=None, limit=self.id_page_limit):
            ids.update(str(item["id"]) for item in page if "id" in item)
        return ids


def page_record(payload: dict[str, Any]) -> PageRecord:
    """Validate one search result; a shape error names the page."""
    try:
        return PageRecord.model_validate(payload)
    except ValidationError as exc:
        raise HttpStatusError(
            f"Confluence page {payload.get('id')!r}: unexpected shape: {exc}", status=200
        ) from exc
