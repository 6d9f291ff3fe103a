"""Send a bot webhook exactly as Pyrus does, and record what the bot answered.

Pyrus POSTs `{"event", "access_token", "task_id", "user_id", "bot_settings", "task"}` to the
bot's URL with `X-Pyrus-Sig` = hex HMAC-SHA1 of the raw body keyed with the bot's secret,
waits up to 60 s for a 2xx and otherwise tries again (three attempts in all, at +61 s and
+122 s; the delays are a parameter here so tests need not wait). Retries carry
`X-Pyrus-Retry: <attempt>/<total>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

logger = logging.getLogger(__name__)

MAX_TRIES = 3
PYRUS_RETRY_DELAYS = (61.0, 122.0)


def sign(body: bytes, secret: str) -> str:
    """The `X-Pyrus-Sig` value: hex HMAC-SHA1 of the raw body (upper-case, like C#/PHP)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest().upper()


@dataclass
class Attempt:
    """One POST to the bot and its outcome."""

    number: int
    headers: dict[str, str]
    status: int | None = None
    body: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Delivery:
    """All attempts of one webhook event; `reply` is the parsed 2xx body if it was JSON."""

    url: str
    payload: bytes
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].ok

    @property
    def reply(self) -> Any:
        if not self.ok or not self.attempts[-1].body.strip():
            return None
        try:
            return json.loads(self.attempts[-1].body)
        except json.JSONDecodeError:
            return None


def build_payload(
    task: dict[str, Any],
    *,
    event: str,
    access_token: str,
    user_id: int,
    bot_settings: str | None = None,
) -> bytes:
    """The raw body Pyrus sends (UTF-8 JSON; the signature covers exactly these bytes)."""
    payload: dict[str, Any] = {
        "event": event,
        "access_token": access_token,
        "task_id": task["id"],
        "user_id": user_id,
    }
    if bot_settings is not None:
        payload["bot_settings"] = bot_settings
    payload["task"] = task
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def send_task_event(
    url: str,
    task: dict[str, Any],
    secret: str,
    event: str = "comment",
    retry_count: int = 0,
    *,
    access_token: str = "emulator-token",
    user_id: int = 0,
    bot_settings: str | None = None,
    timeout: float = 60.0,
    max_tries: int = MAX_TRIES,
    retry_delays: tuple[float, ...] = (0.0, 0.0),
    client: httpx.Client | None = None,
) -> Delivery:
    """POST the event; retry on timeout or non-2xx up to `max_tries` attempts in all.

    `retry_count` > 0 starts as that retry (attempt `retry_count + 1`, with the retry
    header), to replay what a bot sees when Pyrus repeats a call.
    """
    body = build_payload(
        task, event=event, access_token=access_token, user_id=user_id, bot_settings=bot_settings
    )
    delivery = Delivery(url=url, payload=body)
    own_client = client is None
    http = client or httpx.Client(timeout=timeout)
    try:
        for number in range(retry_count + 1, max_tries + 1):
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "Pyrus-Bot-4",
                "X-Pyrus-Sig": sign(body, secret),
            }
            if number > 1:
                headers["X-Pyrus-Retry"] = f"{number}/{max_tries}"
            attempt = Attempt(number=number, headers=headers)
            try:
                response = http.post(url, content=body, headers=headers, timeout=timeout)
                attempt.status, attempt.body = response.status_code, response.text
            except httpx.HTTPError as exc:
                attempt.error = f"{type(exc).__name__}: {exc}"
            delivery.attempts.append(attempt)
            logger.info(
                "webhook task %s attempt %d → %s",
                task.get("id"),
                number,
                attempt.status or attempt.error,
            )
            if attempt.ok:
                break
            if number < max_tries:
                delays = retry_delays or (0.0,)
                time.sleep(delays[min(number - 1, len(delays) - 1)])
    finally:
        if own_client:
            http.close()
    return delivery
