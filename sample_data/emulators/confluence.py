"""A local Confluence REST v1 emulator (Data Center flavour, Cloud paths too).

Paths (each also under `/wiki`, the Cloud context): `GET /rest/api/content/search`
(CQL subset, expand, start/limit paging with `_links.next`), `GET /rest/api/content/{id}`
(404 when deleted; `?status=trashed|any` shows trashed pages), `GET /rest/api/content`
(`spaceKey`, `status=trashed` for the trash listing), `GET /rest/api/space`.
Auth: `Bearer <PAT>` or, when configured, Cloud `Basic base64(email:api_token)`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import Response

from sample_data.emulators.confluence_cql import CqlError, parse_cql
from sample_data.emulators.confluence_render import page_size_cap, render_content, render_space
from sample_data.emulators.dataset import Clock, Dataset, page_as_of
from sample_data.emulators.faults import (
    Faults,
    RateLimiter,
    RecordedRequest,
    RequestLog,
    apply_fault_request,
)

RATE_LIMITED = {"message": "Too many requests. Slow down and try again later."}
UNAUTHORIZED = {
    "statusCode": 401,
    "message": "Client must be authenticated to access this resource.",
}


@dataclass
class ConfluenceState:
    """Pages as of the clock, auth, rate limit (off unless `rate_limit` is set) and faults."""

    dataset: Dataset
    clock: Clock
    token: str
    cloud_user: str | None = None
    cloud_api_token: str | None = None
    rate_limiter: RateLimiter = field(default_factory=RateLimiter)
    server_tz: timezone = timezone(timedelta(hours=3))
    emulate_start_bug: bool = False  # DC: next.start advances by the requested limit
    faults: Faults = field(default_factory=Faults)
    log: RequestLog = field(default_factory=RequestLog)

    def authorized(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return value.strip() == self.token
        if scheme.lower() == "basic" and self.cloud_user and self.cloud_api_token:
            try:
                decoded = base64.b64decode(value.strip()).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return decoded == f"{self.cloud_user}:{self.cloud_api_token}"
        return False

    def views(self, at: datetime | None = None) -> list[dict[str, Any]]:
        """Every page visible at the clock's time (current and trashed)."""
        moment = at or self.clock.now()
        return [v for v in (page_as_of(p, moment) for p in self.dataset.pages) if v is not None]

    def spaces(self) -> list[tuple[str, str]]:
        found: dict[str, str] = {}
        for page in self.dataset.pages:
            found.setdefault(page["space_key"], page.get("space_name", page["space_key"]))
        return sorted(found.items())


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        content=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _expand(request: Request) -> set[str]:
    raw = request.query_params.get("expand", "")
    return {part.strip().lower() for part in raw.split(",") if part.strip()}


def _cursor(start: int) -> str:
    """An opaque Cloud-style cursor (here simply the encoded offset)."""
    return base64.urlsafe_b64encode(str(start).encode()).decode()


def _page(
    request: Request, state: ConfluenceState, items: list[dict[str, Any]], render: Any
) -> Response:
    """One `start`/`limit` page with DC-style `_links` (next only when more remain)."""
    context = "/wiki" if request.url.path.startswith("/wiki/") else ""
    base = str(request.base_url).rstrip("/") + context
    expand = _expand(request)
    cloud = bool(context)
    try:
        start = max(0, int(request.query_params.get("start", 0)))
        requested = max(1, int(request.query_params.get("limit", 25)))
        if cloud and request.query_params.get("cursor"):  # Cloud: the cursor drives paging
            start = int(base64.urlsafe_b64decode(request.query_params["cursor"]).decode())
    except (ValueError, binascii.Error):
        return _json({"statusCode": 400, "message": "bad start, limit or cursor"}, 400)
    limit = min(requested, page_size_cap(expand))
    chunk = items[start : start + limit]
    path = request.url.path[len(context) :]
    skip = {"start", "limit", "next", "cursor"}
    params = {k: v for k, v in request.query_params.items() if k not in skip}

    def link(at: int) -> str:
        extra = {"next": "true", "cursor": _cursor(at)} if cloud and at else {}
        query = urlencode({**extra, **params, "limit": limit, "start": at}, safe=",")
        return f"{path}?{query}"

    links: dict[str, str] = {"self": base + link(start), "base": base, "context": context}
    step = requested if state.emulate_start_bug else len(chunk)
    if chunk and start + len(chunk) < len(items):
        links["next"] = link(start + step)
    if start > 0:
        links["prev"] = link(max(0, start - limit))
    body = {
        "results": [render(v, expand, base) for v in chunk],
        "start": start,
        "limit": limit,
        "size": len(chunk),
        "_links": links,
    }
    return _json(body)


def create_confluence_app(state: ConfluenceState) -> FastAPI:
    """Build the FastAPI app serving `state`."""
    app = FastAPI(title="Confluence emulator", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def _auth_limits_faults(request: Request, call_next: Any) -> Response:
        path = request.url.path
        if path.startswith("/_emulator"):
            return await call_next(request)
        headers: dict[str, str] = {}
        if not state.authorized(request.headers.get("authorization")):
            response = _json(UNAUTHORIZED, 401)
        else:
            response = None
            if state.rate_limiter.limit is not None:
                allowed, remaining, reset = state.rate_limiter.hit("pat")
                headers = {
                    "X-RateLimit-Limit": str(state.rate_limiter.limit),
                    "X-RateLimit-Remaining": str(remaining),
                    "X-RateLimit-Interval-Seconds": str(int(state.rate_limiter.window_seconds)),
                    "Retry-After": "0" if allowed else str(reset),
                }
                if not allowed:
                    response = _json(RATE_LIMITED, 429)
            fault = state.faults.take(path) if response is None else None
            if fault is not None and fault.delay:
                await asyncio.sleep(fault.delay)
            if fault is not None and fault.status:
                response = _json(
                    {"statusCode": fault.status, "message": "Server error"}, fault.status
                )
            if response is None:
                response = await call_next(request)
            if fault is not None and fault.truncate:
                body = b"".join([chunk async for chunk in response.body_iterator])
                response = Response(
                    body[: max(1, len(body) // 2)],
                    response.status_code,
                    media_type="application/json",
                )
        response.headers.update(headers)
        state.log.add(
            RecordedRequest(request.method, path, dict(request.query_params), response.status_code)
        )
        return response

    async def _search(request: Request) -> Response:
        cql = request.query_params.get("cql")
        if not cql:
            return _json({"statusCode": 400, "message": "cql is required"}, 400)
        try:
            query = parse_cql(cql, state.server_tz)
        except CqlError as exc:
            return _json({"statusCode": 400, "message": str(exc)}, 400)
        views = [v for v in state.views() if v["status"] == "current" and query.matches(v)]
        return _page(request, state, query.sort(views), render_content)

    async def _content_list(request: Request) -> Response:
        wanted = request.query_params.get("status", "current")
        key = request.query_params.get("spaceKey")
        views = [
            v
            for v in state.views()
            if (wanted == "any" or v["status"] == wanted) and (key is None or v["space_key"] == key)
        ]
        return _page(request, state, sorted(views, key=lambda v: int(v["id"])), render_content)

    async def _content(content_id: str, request: Request) -> Response:
        wanted = request.query_params.get("status", "current")
        for view in state.views():
            if str(view["id"]) != content_id:
                continue
            if view["status"] == "current" or wanted in {view["status"], "any"}:
                context = "/wiki" if request.url.path.startswith("/wiki/") else ""
                base = str(request.base_url).rstrip("/") + context
                return _json(render_content(view, _expand(request), base))
        return _json(
            {
                "statusCode": 404,
                "data": {"authorized": True, "valid": True},
                "message": f"No content found with id: ContentId{{id={content_id}}}",
                "reason": "Not Found",
            },
            404,
        )

    async def _spaces(request: Request) -> Response:
        keys = set(request.query_params.getlist("spaceKey"))
        items = [(k, n) for k, n in state.spaces() if not keys or k in keys]
        return _page(request, state, items, lambda item, _e, base: render_space(*item, base))

    for prefix in ("", "/wiki"):
        app.add_api_route(f"{prefix}/rest/api/content/search", _search, methods=["GET"])
        app.add_api_route(f"{prefix}/rest/api/content", _content_list, methods=["GET"])
        app.add_api_route(f"{prefix}/rest/api/content/{{content_id}}", _content, methods=["GET"])
        app.add_api_route(f"{prefix}/rest/api/space", _spaces, methods=["GET"])

    @app.post("/_emulator/clock")
    async def _clock(request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        state.clock.advance(days=float(body.get("days", 0)), hours=float(body.get("hours", 0)))
        return _json({"now": state.clock.now().isoformat()})

    @app.post("/_emulator/faults")
    async def _faults(request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        return _json({"pending": apply_fault_request(state.faults, body)})

    return app
