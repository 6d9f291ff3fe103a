"""The Pyrus bot's HTTP side: verify, store in the inbox, answer 200 fast.

`POST /pyrus/webhook` checks the body size, then `X-Pyrus-Sig` (hex HMAC-SHA1 of the
raw body keyed with the bot secret, compared case-insensitively in constant time),
then the JSON, and only then writes the event to `assistant.inbox`. Nothing is stored
for a request that fails any check. The slow part (retrieval, LLM, posting) happens
in the inbox worker, so Pyrus's 60-second limit is never at risk. Every error is a
`KbError` subclass mapped to an HTTP status in `STATUS_BY_ERROR`; a database outage
answers 503 so that Pyrus delivers again later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import psycopg
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from assistant.bot.inbox import EnqueueResult, InboxWorker, enqueue, inbox_counts
from assistant.bot.pipeline import BotPipeline
from assistant.bot.pyrus_models import WebhookPayload
from assistant.db import connect
from assistant.errors import ConfigError, DatabaseError, KbError
from assistant.settings import AssistantSettings

logger = logging.getLogger(__name__)


class WebhookError(KbError):
    """A webhook request we refuse."""


class InvalidSignature(WebhookError):
    """`X-Pyrus-Sig` is missing or does not match the body."""


class PayloadTooLarge(WebhookError):
    """The body is over `WEBHOOK_MAX_BODY_BYTES`."""


class InvalidPayload(WebhookError):
    """The body is not a Pyrus bot payload (bad JSON, no task…)."""


# The one place where errors become HTTP statuses (most specific class first).
STATUS_BY_ERROR: list[tuple[type[Exception], int]] = [
    (InvalidSignature, 401),
    (PayloadTooLarge, 413),
    (InvalidPayload, 400),
    (DatabaseError, 503),
    (ConfigError, 503),
    (KbError, 500),
]


def status_for(exc: Exception) -> int:
    """HTTP status for an error of the tree."""
    for error_type, status in STATUS_BY_ERROR:
        if isinstance(exc, error_type):
            return status
    return 500


def sign(secret: str, body: bytes) -> str:
    """The signature Pyrus sends: upper-case hex HMAC-SHA1 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest().upper()


def verify_signature(secret: str, body: bytes, header: str | None) -> None:
    """Raise `InvalidSignature` unless `header` signs `body` with `secret`."""
    if not header:
        raise InvalidSignature("X-Pyrus-Sig header is missing")
    expected = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    if not hmac.compare_digest(expected.encode(), header.strip().lower().encode()):
        raise InvalidSignature("X-Pyrus-Sig does not match the body")


def parse_payload(body: bytes) -> WebhookPayload:
    """Decode and validate the payload; every problem is an `InvalidPayload` with a reason."""
    if not body.strip():
        raise InvalidPayload("empty body: expected a Pyrus bot payload (JSON object)")
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidPayload(f"body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise InvalidPayload("body is not valid JSON: nested too deeply") from exc
    if not isinstance(data, dict):
        raise InvalidPayload("body must be a JSON object")
    if not isinstance(data.get("task"), dict):
        raise InvalidPayload("payload has no task object")
    try:
        payload = WebhookPayload.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidPayload(f"invalid payload field {where}: {first['msg']}") from exc
    if payload.task_id is not None and payload.task_id != payload.task.id:
        raise InvalidPayload(f"task_id {payload.task_id} differs from task.id {payload.task.id}")
    return payload


@dataclass
class BotService:
    """What the app needs: settings, the database, and (optionally) an in-process worker."""

    settings: AssistantSettings
    database_url: str
    worker: InboxWorker | None = None

    def store(self, payload: WebhookPayload, retry_header: str | None) -> EnqueueResult:
        """Write the event to the inbox; an unreachable database is `DatabaseError`."""
        stored = payload.model_dump(mode="json", exclude={"access_token"})
        last = payload.task.comments[-1].id if payload.task.comments else None
        try:
            with connect(self.database_url, autocommit=True, register_vector=False) as conn:
                return enqueue(
                    conn,
                    task_id=payload.task.id,
                    event=payload.event,
                    form_id=payload.task.form_id,
                    comment_id=last,
                    payload=stored,
                    access_token=payload.access_token,
                    retry_header=retry_header,
                )
        except psycopg.Error as exc:
            raise DatabaseError(f"cannot store the webhook: {type(exc).__name__}") from exc

    def start_worker(self) -> None:
        if self.worker is not None:
            self.worker.start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes is over the {limit}-byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    settings: AssistantSettings,
    database_url: str,
    *,
    pipeline: BotPipeline | None = None,
) -> FastAPI:
    """The bot app; with a pipeline and `BOT_WORKER_IN_APP`, it also runs the worker."""
    worker = None
    if pipeline is not None and settings.bot_worker_in_app:
        worker = InboxWorker(
            database_url,
            pipeline.handle_job,
            poll_seconds=settings.bot_poll_seconds,
            claim_timeout_seconds=settings.bot_claim_timeout_seconds,
            max_attempts=settings.bot_max_attempts,
            backoff_seconds=settings.bot_retry_backoff_seconds,
        )
    service = BotService(settings=settings, database_url=database_url, worker=worker)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.start_worker()
        yield
        await run_in_threadpool(service.stop)

    app = FastAPI(title="kb Pyrus bot", lifespan=lifespan)
    app.state.bot = service

    @app.exception_handler(KbError)
    async def _kb_error(_: Request, exc: KbError) -> JSONResponse:
        status = status_for(exc)
        logger.log(
            logging.WARNING if status < 500 else logging.ERROR, "webhook %d: %s", status, exc
        )
        return JSONResponse({"error": " ".join(str(exc).split())}, status_code=status)

    @app.post("/pyrus/webhook")
    async def pyrus_webhook(request: Request) -> Response:
        body = await _read_limited(request, settings.webhook_max_body_bytes)
        if settings.pyrus_bot_secret is None:
            raise ConfigError("PYRUS_BOT_SECRET is not set: cannot verify webhooks")
        verify_signature(
            settings.pyrus_bot_secret.get_secret_value(), body, request.headers.get("x-pyrus-sig")
        )
        payload = parse_payload(body)
        result = await run_in_threadpool(
            service.store, payload, request.headers.get("x-pyrus-retry")
        )
        if service.worker is not None:
            service.start_worker()  # no-op when running; lifespan may be off (run_in_thread)
            service.worker.wake()
        logger.info(
            "webhook task %d event %s stored as inbox %d%s",
            payload.task.id,
            payload.event,
            result.inbox_id,
            " (duplicate)" if result.duplicate else "",
        )
        return Response(
            status_code=200,
            headers={
                "X-Kb-Inbox-Id": str(result.inbox_id),
                "X-Kb-Duplicate": "true" if result.duplicate else "false",
            },
        )

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        try:
            with connect(database_url, autocommit=True, register_vector=False) as conn:
                counts = inbox_counts(conn)
        except (KbError, psycopg.Error) as exc:
            return JSONResponse({"status": "unavailable", "error": str(exc)[:300]}, status_code=503)
        return JSONResponse({"status": "ok", "inbox": counts})

    return app
