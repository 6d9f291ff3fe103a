"""A local Pyrus API v4 emulator (FastAPI) over a sample dataset, as of an emulated clock.

Paths: `POST /api/v4/auth` (also `/v4/auth`), `GET /v4/forms`, `GET /v4/forms/{id}`,
`GET|POST /v4/forms/{id}/register`, `GET /v4/tasks/{id}`, `POST /v4/tasks/{id}/comments`,
`GET /v4/members`; test hooks under `/_emulator/*`. Every `/v4` answer carries the
`X-RateLimit-*` headers; faults and the request log live on `PyrusState`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from sample_data.emulators.dataset import Clock, Dataset, format_ts, parse_ts
from sample_data.emulators.faults import RateLimiter, RecordedRequest, apply_fault_request
from sample_data.emulators.pyrus_register import RegisterParamError
from sample_data.emulators.pyrus_state import PyrusApiError, PyrusState, Token, dumps

logger = logging.getLogger(__name__)

TOO_MANY = {
    "error": "Превышено максимальное число запросов за 10 минут.",
    "error_code": "too_many_requests",
}
SERVER_ERROR = {"error": "Internal server error.", "error_code": "server_error"}


def _json(payload: Any, status: int = 200) -> Response:
    return Response(content=dumps(payload), status_code=status, media_type="application/json")


async def _read_json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PyrusApiError(400, "invalid_json", "Request body is not valid JSON.") from exc


def create_pyrus_app(state: PyrusState) -> FastAPI:
    """Build the FastAPI app serving `state`."""
    app = FastAPI(title="Pyrus API emulator", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(PyrusApiError)
    async def _api_error(_: Request, exc: PyrusApiError) -> Response:
        return _json(exc.body(), exc.status)

    @app.exception_handler(RegisterParamError)
    async def _param_error(_: Request, exc: RegisterParamError) -> Response:
        return _json({"error": str(exc), "error_code": "validation_error"}, 400)

    @app.middleware("http")
    async def _limits_faults_log(request: Request, call_next: Any) -> Response:
        path = request.url.path
        if path.startswith("/_emulator"):
            return await call_next(request)
        user = None
        headers: dict[str, str] = {}
        if path.startswith("/v4/"):
            auth = request.headers.get("authorization", "")
            token = state.tokens.get(auth[7:].strip()) if auth[:7].lower() == "bearer " else None
            user = token.login if token and not token.expired else None
            allowed, remaining, reset = state.rate_limiter.hit(user or "anonymous")
            headers = {
                "X-RateLimit-Limit": str(state.rate_limiter.limit or 5000),
                "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": str(reset),
            }
            if not allowed:
                return _finish(request, _json(TOO_MANY, 429), headers, user)
        fault = state.faults.take(path)
        if fault is not None and fault.apply_after:
            request.state.late = fault  # the route applies it late (`_comment`)
        elif fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.status:
            return _finish(request, _json(SERVER_ERROR, fault.status), headers, user)
        response = await call_next(request)
        if fault is not None and fault.truncate:
            body = b"".join([chunk async for chunk in response.body_iterator])
            response = Response(
                content=body[: max(1, len(body) // 2)],
                status_code=response.status_code,
                media_type="application/json",
            )
        return _finish(request, response, headers, user)

    def _finish(
        request: Request, response: Response, headers: dict[str, str], user: str | None
    ) -> Response:
        response.headers.update(headers)
        state.log.add(
            RecordedRequest(
                method=request.method,
                path=request.url.path,
                query=dict(request.query_params),
                status=response.status_code,
                user=user,
            )
        )
        return response

    def _token(request: Request) -> Token:
        return state.check_token(request.headers.get("authorization"))

    async def _auth(request: Request) -> Response:
        body = await _read_json(request)
        if not isinstance(body, dict):
            raise PyrusApiError(400, "empty_body", "login and security_key are required.")
        token = state.authenticate(body.get("login"), body.get("security_key"))
        base = str(request.base_url).rstrip("/")
        return _json(
            {"access_token": token, "api_url": f"{base}/v4/", "files_url": f"{base}/files/"}
        )

    app.add_api_route("/api/v4/auth", _auth, methods=["POST"])
    app.add_api_route("/v4/auth", _auth, methods=["POST"])

    @app.get("/v4/forms")
    async def _forms(request: Request) -> Response:
        _token(request)
        return _json(state.forms())

    @app.get("/v4/forms/{form_id}")
    async def _form(form_id: int, request: Request) -> Response:
        _token(request)
        return _json(state.form(form_id))

    @app.api_route("/v4/forms/{form_id}/register", methods=["GET", "POST"])
    async def _register(form_id: int, request: Request) -> Response:
        _token(request)
        params: dict[str, Any] = dict(request.query_params)
        if request.method == "POST":
            body = await _read_json(request)
            if body is not None and not isinstance(body, dict):
                raise PyrusApiError(400, "invalid_json", "Request body must be a JSON object.")
            params.update(body or {})
        return _json({"tasks": state.register(form_id, params)})

    @app.get("/v4/tasks/{task_id}")
    async def _task(task_id: int, request: Request) -> Response:
        _token(request)
        return _json({"task": state.get_task(task_id)})

    @app.post("/v4/tasks/{task_id}/comments")
    async def _comment(task_id: int, request: Request) -> Response:
        token = _token(request)
        body = await _read_json(request)
        late = getattr(request.state, "late", None)
        if late is not None:  # accepted now, applied later, whatever the client does
            view = state.get_task(task_id)
            threading.Timer(late.apply_after, state.post_comment, (task_id, body, token)).start()
            await asyncio.sleep(late.delay)
            return _json({"task": view})
        return _json({"task": state.post_comment(task_id, body, token)})

    @app.get("/v4/members")
    async def _members(request: Request) -> Response:
        _token(request)
        return _json(state.dataset.members)

    # --- test hooks (not part of Pyrus) ---------------------------------------------------

    @app.get("/_emulator/clock")
    async def _clock_get() -> Response:
        return _json({"now": format_ts(state.clock.now())})

    @app.post("/_emulator/clock")
    async def _clock_post(request: Request) -> Response:
        body = await _read_json(request) or {}
        if body.get("set"):
            state.clock.set(parse_ts(body["set"]))
        else:
            state.clock.advance(
                days=float(body.get("days", 0)),
                hours=float(body.get("hours", 0)),
                minutes=float(body.get("minutes", 0)),
            )
        return _json({"now": format_ts(state.clock.now())})

    @app.post("/_emulator/expire_tokens")
    async def _expire() -> Response:
        state.expire_all_tokens()
        return _json({"expired": len(state.tokens)})

    @app.post("/_emulator/faults")
    async def _faults(request: Request) -> Response:
        body = await _read_json(request) or {}
        if body.get("delete_task"):
            state.delete_task(int(body["delete_task"]))
        return _json({"pending": apply_fault_request(state.faults, body)})

    @app.post("/_emulator/tasks")
    async def _new_task(request: Request) -> Response:
        body = await _read_json(request)
        if not isinstance(body, dict):
            raise PyrusApiError(400, "invalid_json", "A ticket object is required.")
        return _json({"task": state.create_task(body)})

    return app


def make_pyrus_state(
    dataset: Dataset,
    clock: Clock,
    credentials: dict[str, str],
    *,
    rate_limit: int | None = 5000,
    rate_window_seconds: float = 600.0,
    archive_after: timedelta = timedelta(0),
) -> PyrusState:
    """State with Pyrus's documented defaults (5,000 requests per 10 minutes per user)."""
    return PyrusState(
        dataset=dataset,
        clock=clock,
        credentials=dict(credentials),
        rate_limiter=RateLimiter(rate_limit, rate_window_seconds),
        archive_after=archive_after,
    )
