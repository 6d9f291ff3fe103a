"""Signed webhook events that could not be stored as they came, kept with the reason.

The webhook answers such an event 4xx (or stores it sanitized) instead of a 503 that
makes Pyrus retry three times and give up with nothing recorded. What Pyrus signed is
kept here: the raw bytes, minus the `access_token` value (a token must not outlive the
job that needed it), so an operator can see what came and why it was refused.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

import psycopg

logger = logging.getLogger(__name__)

_TOKEN = re.compile(rb'("access_token"\s*:\s*)"(?:[^"\\]|\\.)*"')


def strip_token(body: bytes) -> bytes:
    """The body with every `"access_token": "…"` value replaced by `"[removed]"`."""
    return _TOKEN.sub(rb'\1"[removed]"', body)


@dataclass(frozen=True)
class DeadLetter:
    """What is recorded about one refused or sanitized event."""

    disposition: str  # 'rejected' (answered 4xx) or 'sanitized' (stored after cleaning)
    reason: str
    http_status: int
    task_id: int | None = None
    inbox_id: int | None = None


def record(
    conn: psycopg.Connection, letter: DeadLetter, body: bytes, retry_header: str | None
) -> int:
    """Insert (or count a redelivery of) a dead letter; returns its id."""
    kept = strip_token(body)
    task_id = (
        letter.task_id
        if letter.task_id is not None and -(2**63) <= letter.task_id < 2**63
        else None
    )
    row = conn.execute(
        """
        insert into assistant.dead_letters
            (body_sha256, disposition, reason, http_status, task_id, inbox_id, body,
             body_bytes, retry_header)
        values (%s, %s, %s, %s, %s, %s, %s, %s, %s)
        on conflict (body_sha256, disposition) do update
            set deliveries = assistant.dead_letters.deliveries + 1,
                last_delivery_at = now(),
                retry_header = excluded.retry_header
        returning id
        """,
        (
            hashlib.sha256(kept).hexdigest(),
            letter.disposition,
            letter.reason[:2000],
            letter.http_status,
            task_id,
            letter.inbox_id,
            kept,
            len(body),
            (retry_header or "")[:200] or None,
        ),
    ).fetchone()
    assert row is not None
    logger.warning(
        "webhook dead letter %d (%s, HTTP %d): %s",
        row[0],
        letter.disposition,
        letter.http_status,
        letter.reason,
    )
    return int(row[0])
