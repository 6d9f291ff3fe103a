"""The Pyrus bot's HTTP side: verify, store in the inbox, answer 200 fast.

`POST /pyrus/webhook` reads the body up to `WEBHOOK_MAX_BODY_BYTES` (streamed: a larger
body is refused before it is buffered whole), checks `X-Pyrus-Sig` (hex HMAC-SHA1 of
the raw body keyed with the bot secret, compared case-insensitively in constant time),
then the JSON, and only then writes the event to `assistant.inbox`. Nothing is stored
for an unsigned request. A signed one is never lost: if it is not a valid payload, or
the database refuses its values, it is answered 4xx and kept in `assistant.dead_letters`
with the reason; text Postgres cannot hold (NUL, lone surrogates) is cleaned, stored,
and noted there too (payload_check.py). Only an outage answers 503, so that Pyrus
delivers again later. The slow part (retrieval, LLM, posting) happens in the inbox
worker, so Pyrus's 60-second limit is never at risk. Every error is a `KbError`
subclass mapped to an HTTP status in `STATUS_BY_ERROR`; a 5xx answer and `/healthz`
never carry internals (socket paths, server messages): those go to the log only.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import psycopg
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from assistant.bot import dead_letters
from assistant.bot.dead_letters import DeadLetter
from assistant.bot.inbox import EnqueueResult, InboxWorker, enqueue, inbox_counts
from assistant.bot.payload_check import InvalidPayload, check_payload, parse_payload
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


class UnstorablePayload(WebhookError):
    """A valid payload whose values the database refuses (kept as a dead letter)."""


__all__ = ["InvalidPayload", "create_app", "parse_payload", "sign", "verify_signature"]

# The one place where errors become HTTP statuses (most specific class first).
STATUS_BY_ERROR: list[tuple[type[Exception], int]] = [
    (InvalidSignature, 401),
    (PayloadTooLarge, 413),
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
            raise UnstorablePayload(f"the database refused the event: {_one_line(exc)}") from exc
        except (psycopg.Error, ValueError) as exc:  # DataError, UnicodeEncodeError, …
            raise UnstorablePayload(f"the database refused the event: {_one_line(exc)}") from exc

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


def _one_line(exc: BaseException) -> str:
    return (" ".join(str(exc).split()) or type(exc).__name__)[:300]


def _is_outage(exc: psycopg.Error) -> bool:
    """Connection, shutdown or resource trouble (retry later), not a refused value."""
    state = getattr(exc, "sqlstate", None)
    return state is None or state.startswith(("08", "53", "57", "58"))


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
            letter = DeadLetter("rejected", str(exc), status_for(exc), task_id=task_id)
            await run_in_threadpool(service.dead_letter, body, letter, retry)
            raise
        except (DatabaseError, ConfigError):
            raise
        except Exception as exc:  # a signed event never ends in a 500: kept, then 422
            logger.exception("webhook: unexpected error on a signed event")
            reason = f"unexpected {type(exc).__name__}: {_one_line(exc)}"
            letter = DeadLetter("rejected", reason, 422, task_id=task_id)
            await run_in_threadpool(service.dead_letter, body, letter, retry)
            raise UnstorablePayload(f"the event could not be stored ({reason})") from exc
        if checked.notes:
            note = "stored sanitized: " + "; ".join(checked.notes)
            letter = DeadLetter("sanitized", note, 200, task_id=task_id, inbox_id=result.inbox_id)
            await run_in_threadpool(service.dead_letter, body, letter, retry)
        return result, checked.payload

    @app.post("/pyrus/webhook")
    async def pyrus_webhook(request: Request) -> Response:
        body = await _read_limited(request, settings.webhook_max_body_bytes)
        if settings.pyrus_bot_secret is None:
            raise ConfigError("PYRUS_BOT_SECRET is not set: cannot verify webhooks")
        verify_signature(
            settings.pyrus_bot_secret.get_secret_value(), body, request.headers.get("x-pyrus-sig")
        )
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
