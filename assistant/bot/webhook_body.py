"""Reading a webhook body from a stranger: signature first, bounded in time, memory and size.

Until `X-Pyrus-Sig` is checked the sender is unknown, so the read costs it as little as
possible (docs/reliability.md):

- a request without a well-formed signature header is refused before a byte of its body
  is read;
- the whole body must arrive within `WEBHOOK_BODY_TIMEOUT_SECONDS` (one deadline for the
  body, not per read), else 408;
- the HMAC is computed while the body streams in, and the bytes are held in memory only
  up to `SPOOL_MEMORY_BYTES`, the rest spooled to a temporary file;
- a body over `WEBHOOK_MAX_BODY_BYTES` (the limit docs/pyrus-api.md §7 gives) is still
  read, up to `OVERSIZE_FACTOR` times the limit, so that a signed one can be kept as a
  dead letter instead of being dropped; past that the connection is refused (413);
- a client that disconnects mid-body is one log line, not a traceback.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import tempfile
from dataclasses import dataclass

from fastapi import Request
from starlette.requests import ClientDisconnect

from assistant.errors import KbError

logger = logging.getLogger(__name__)

SPOOL_MEMORY_BYTES = 64 * 1024
"""Body bytes held in memory per request before the rest goes to a temporary file."""

OVERSIZE_FACTOR = 4
"""A body up to this many times the limit is read to the end (to keep it if signed)."""

_HEX_SHA1 = re.compile(r"[0-9a-fA-F]{40}")


class WebhookError(KbError):
    """A webhook request we refuse."""


class InvalidSignature(WebhookError):
    """`X-Pyrus-Sig` is missing or does not match the body."""


class PayloadTooLarge(WebhookError):
    """The body is over `WEBHOOK_MAX_BODY_BYTES`."""


class BodyTimeout(WebhookError):
    """The body did not arrive within `WEBHOOK_BODY_TIMEOUT_SECONDS`."""


class ClientGone(WebhookError):
    """The sender closed the connection before the body was complete."""


def sign(secret: str, body: bytes) -> str:
    """The signature Pyrus sends: upper-case hex HMAC-SHA1 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest().upper()


def verify_signature(secret: str, body: bytes, header: str | None) -> None:
    """Raise `InvalidSignature` unless `header` signs `body` with `secret`."""
    check_signature_header(header)
    _compare(hmac.new(secret.encode(), body, hashlib.sha1).hexdigest(), header or "")


def check_signature_header(header: str | None) -> None:
    """Refuse a request whose signature header cannot possibly match (before the body)."""
    if not header or not header.strip():
        raise InvalidSignature("X-Pyrus-Sig header is missing")
    if not _HEX_SHA1.fullmatch(header.strip()):
        raise InvalidSignature("X-Pyrus-Sig does not match the body")  # not even 40 hex digits


def _compare(expected_hex: str, header: str) -> None:
    if not hmac.compare_digest(expected_hex.encode(), header.strip().lower().encode()):
        raise InvalidSignature("X-Pyrus-Sig does not match the body")


@dataclass(frozen=True)
class SignedBody:
    """A body whose signature matched; `oversize` when it is over the limit."""

    data: bytes
    oversize: bool


async def read_signed_body(
    request: Request, secret: str, *, limit: int, timeout_seconds: float
) -> SignedBody:
    """Read, bound and verify the body; every refusal is a `WebhookError`."""
    header = request.headers.get("x-pyrus-sig")
    check_signature_header(header)
    ceiling = limit * OVERSIZE_FACTOR
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > ceiling:
        raise PayloadTooLarge(f"body of {declared} bytes is over the {limit}-byte limit")
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
    size = 0
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as spool:
        try:
            async with asyncio.timeout(timeout_seconds):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > ceiling:
                        raise PayloadTooLarge(f"body is over the {limit}-byte limit")
                    mac.update(chunk)
                    spool.write(chunk)
        except TimeoutError as exc:
            raise BodyTimeout(
                f"body not complete within {timeout_seconds:g} s ({size} bytes read)"
            ) from exc
        except ClientDisconnect as exc:
            raise ClientGone(f"client disconnected after {size} bytes of the body") from exc
        _compare(mac.hexdigest(), header or "")
        spool.seek(0)
        return SignedBody(data=spool.read(), oversize=size > limit)
