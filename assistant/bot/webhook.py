"""The Pyrus bot's HTTP side: verify, store in the inbox, answer 200 fast.

`POST /pyrus/webhook` checks that `X-Pyrus-Sig` is there before reading the body, reads
the body within a deadline and a size bound while computing its HMAC (webhook_body.py),
then checks the JSON, and only then writes the event to `assistant.inbox`. Nothing is
stored for an unsigned request. A signed one is never lost: if it is over the body
limit, not a valid payload, or the database refuses its values, it is answered 4xx and
kept in `assistant.dead_letters` with the reason; text Postgres cannot hold (NUL, lone
surrogates) is cleaned, stored, and noted there too (payload_check.py). Only an outage
answers 503, so that Pyrus delivers again later; so does a full house (more than
`WEBHOOK_MAX_CONCURRENCY` bodies being read). The slow part (retrieval, LLM, posting)
happens in the inbox worker, so Pyrus's 60-second limit is never at risk. Every error is
a `KbError` subclass mapped to an HTTP status in `STATUS_BY_ERROR`; an answer never
carries internals (database text, socket paths): those go to the log and the dead letter
only. The interactive docs (/docs, /redoc, /openapi.json) are off unless
`WEBHOOK_API_DOCS` is set. Limits: docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import psycopg
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from assistant.bot import dead_letters
from assistant.bot.dead_letters import DeadLetter
from assistant.bot.inbox import EnqueueResult, enqueue, inbox_counts
from assistant.bot.inbox_worker import InboxWorker
from assistant.bot.payload_check import InvalidPayload, check_payload, parse_payload
from assistant.bot.pipeline import BotPipeline
from assistant.bot.pyrus_models import WebhookPayload
from assistant.bot.webhook_body import (
    BodyTimeout,
    ClientGone,
    InvalidSignature,
    PayloadTooLarge,
    WebhookError,
    read_signed_body,
    sign,
    verify_signature,
)
from assistant.db import connect
from assistant.errors import ConfigError, DatabaseError, KbError
from assistant.settings import AssistantSettings

logger = logging.getLogger(__name__)


class UnstorablePayload(WebhookError):
    """A valid payload whose values the database refuses (kept as a dead letter).

    The message is what the sender reads; `detail` (the database's words) goes to the
    dead letter and the log only.
    """

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail or message


class Busy(WebhookError):
    """More than `WEBHOOK_MAX_CONCURRENCY` requests at once: Pyrus retries later."""


__all__ = [
    "InvalidPayload",
    "InvalidSignature",
    "PayloadTooLarge",
    "create_app",
    "parse_payload",
    "sign",
    "verify_signature",
]
_UNSTORABLE = "the event could not be stored as it came; it is kept as a dead letter"

# The one place where errors become HTTP statuses (most specific class first).
STATUS_BY_ERROR: list[tuple[type[Exception], int]] = [
    (InvalidSignature, 401),
    (PayloadTooLarge, 413),
    (BodyTimeout, 408),
    (ClientGone, 400),
    (Busy, 503),
    (InvalidPayload, 400),
    (UnstorablePayload, 422),
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
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            if _is_outage(exc):
                raise DatabaseError(f"cannot store the webhook: {_one_line(exc)}") from exc
            detail = f"the database refused the event: {_one_line(exc)}"
            raise UnstorablePayload(_UNSTORABLE, detail=detail) from exc
        except (psycopg.Error, ValueError) as exc:  # DataError, UnicodeEncodeError, …
            detail = f"the database refused the event: {_one_line(exc)}"
            raise UnstorablePayload(_UNSTORABLE, detail=detail) from exc

    def dead_letter(self, body: bytes, letter: DeadLetter, retry_header: str | None) -> None:
        """Keep a refused or sanitized signed event; an outage here is `DatabaseError`."""
        try:
            with connect(self.database_url, autocommit=True, register_vector=False) as conn:
                dead_letters.record(conn, letter, body, retry_header)
        except psycopg.Error as exc:
            raise DatabaseError(f"cannot record a dead letter: {_one_line(exc)}") from exc

    def start_worker(self) -> None:
        if self.worker is not None:
            self.worker.start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()


def _peek_task_id(body: bytes) -> int | None:
    """The task id of a body too large to parse whole (a dead letter's label only)."""
    match = re.search(rb'"task_id"\s*:\s*(\d{1,18})\b', body[:65536])
    return int(match.group(1)) if match else None


def _one_line(exc: BaseException) -> str:
    return (" ".join(str(exc).split()) or type(exc).__name__)[:300]


def _is_outage(exc: psycopg.Error) -> bool:
    """Connection, shutdown or resource trouble (retry later), not a refused value."""
    state = getattr(exc, "sqlstate", None)
    return state is None or state.startswith(("08", "53", "57", "58"))


def create_app(
    settings: AssistantSettings,
    database_url: str,
    *,
    pipeline: BotPipeline | None = None,
) -> FastAPI:
    """The bot app; with a pipeline and `BOT_WORKER_IN_APP`, it also runs the worker."""
    worker = None
    if pipeline is not None and settings.bot_worker_in_app:
        worker = InboxWorker.from_settings(database_url, pipeline.handle_job, settings)
    service = BotService(settings=settings, database_url=database_url, worker=worker)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.start_worker()
        yield
        await run_in_threadpool(service.stop)

    docs = settings.webhook_api_docs
    app = FastAPI(
        title="kb Pyrus bot",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.bot = service
    reading = asyncio.Semaphore(settings.webhook_max_concurrency)
    app.state.webhook_slots = reading  # for health checks and tests: `.locked()` when full

    @app.exception_handler(KbError)
    async def _kb_error(_: Request, exc: KbError) -> JSONResponse:
        status = status_for(exc)
        if isinstance(exc, ClientGone):  # nobody to answer: one line, no traceback
            logger.info("webhook: %s", exc)
            return JSONResponse({"error": "client disconnected"}, status)
        logger.log(
            logging.WARNING if status < 500 else logging.ERROR, "webhook %d: %s", status, exc
        )
        if isinstance(exc, DatabaseError):  # details (socket path, server text): log only
            return JSONResponse({"error": "database unavailable, retry later"}, status)
        return JSONResponse({"error": " ".join(str(exc).split())}, status_code=status)

    async def _store_signed(body: bytes, retry: str | None) -> tuple[EnqueueResult, WebhookPayload]:
        """Store a signed event; whatever cannot be stored becomes a dead letter and a 4xx."""
        task_id = None
        try:
            checked = check_payload(body)
            task_id = checked.payload.task.id
            result = await run_in_threadpool(service.store, checked.payload, retry)
        except (InvalidPayload, UnstorablePayload) as exc:
            task_id = getattr(exc, "task_id", None) or task_id
            reason = getattr(exc, "detail", None) or str(exc)
            letter = DeadLetter("rejected", reason, status_for(exc), task_id=task_id)
            await run_in_threadpool(service.dead_letter, body, letter, retry)
            raise
        except (DatabaseError, ConfigError):
            raise
        except Exception as exc:  # a signed event never ends in a 500: kept, then 422
            logger.exception("webhook: unexpected error on a signed event")
            reason = f"unexpected {type(exc).__name__}: {_one_line(exc)}"
            letter = DeadLetter("rejected", reason, 422, task_id=task_id)
            await run_in_threadpool(service.dead_letter, body, letter, retry)
            raise UnstorablePayload(_UNSTORABLE, detail=reason) from exc
        if checked.notes:
            note = "stored sanitized: " + "; ".join(checked.notes)
            letter = DeadLetter("sanitized", note, 200, task_id=task_id, inbox_id=result.inbox_id)
            await run_in_threadpool(service.dead_letter, body, letter, retry)
        return result, checked.payload

    @app.post("/pyrus/webhook")
    async def pyrus_webhook(request: Request) -> Response:
        if settings.pyrus_bot_secret is None:
            raise ConfigError("PYRUS_BOT_SECRET is not set: cannot verify webhooks")
        if reading.locked():
            raise Busy(f"over {settings.webhook_max_concurrency} requests at once; retry later")
        async with reading:
            return await _handle(request, settings.pyrus_bot_secret.get_secret_value())

    async def _keep_oversize(body: bytes, retry: str | None) -> None:
        """A signed body over the limit: kept whole as a dead letter, then 413."""
        limit = settings.webhook_max_body_bytes
        reason = f"body of {len(body)} bytes is over the {limit}-byte WEBHOOK_MAX_BODY_BYTES"
        letter = DeadLetter("rejected", reason, 413, task_id=_peek_task_id(body))
        await run_in_threadpool(service.dead_letter, body, letter, retry)
        raise PayloadTooLarge(f"{reason}; it is kept as a dead letter")

    async def _handle(request: Request, secret: str) -> Response:
        signed = await read_signed_body(
            request,
            secret,
            limit=settings.webhook_max_body_bytes,
            timeout_seconds=settings.webhook_body_timeout_seconds,
        )
        body = signed.data
        if signed.oversize:
            await _keep_oversize(body, request.headers.get("x-pyrus-retry"))
        retry = request.headers.get("x-pyrus-retry")
        result, payload = await _store_signed(body, retry)
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
        """`ok` or `unavailable`, nothing else: anyone can call it; details go to the log."""
        try:
            with connect(database_url, autocommit=True, register_vector=False) as conn:
                counts = inbox_counts(conn)
        except (KbError, psycopg.Error) as exc:
            logger.warning("healthz: unavailable: %s", _one_line(exc))
            return JSONResponse({"status": "unavailable"}, status_code=503)
        logger.debug("healthz: inbox %s", counts)
        return JSONResponse({"status": "ok"})

    return app
