"""One retry policy for every source API.

Retries only what can heal by waiting: 429, 5xx, timeouts, dropped connections and
truncated JSON bodies. Other 4xx go straight back to the caller (401 is the Pyrus
client's business, 404 means gone). `Retry-After` wins over the computed backoff, and
Pyrus' `X-RateLimit-Remaining: 0` + `X-RateLimit-Reset` pauses the next request
instead of burning one into a 429. Counters (requests, 429s, retries) are shared by
threads and end up in the flow's summary artifact.

The extract, the bot (`assistant/bot/pyrus_client.py`) and the remote embedder use this
one loop; what differs between them is configuration, not code: the bot hands 429 back
instead of sleeping on it (`retry_statuses`), bounds each call by the job's deadline,
and sends its comment POST with `idempotent=False` — once a non-idempotent request may
have left, a missing or 5xx answer raises `OutcomeUnknown` instead of sending it again.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from assistant.errors import KbError

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class SourceError(KbError):
    """A source API failed in a way the operator must look at."""


class RetryableError(SourceError):
    """A transient failure: a later attempt (or a later run) may succeed."""


class TruncatedResponse(RetryableError):
    """The body was not complete JSON (a dropped or cut connection)."""


class OutcomeUnknown(SourceError):
    """A non-idempotent request left but no answer says whether it was applied.

    Not a `RetryableError`: sending it again could apply it twice.
    """


class HttpStatusError(SourceError):
    """A non-retryable HTTP answer (4xx other than 429)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error_code: str | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.response = response  # for a caller that reads headers (the bot's 429 wait)


NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
"""Transport errors raised before a request left: retrying them cannot apply it twice."""


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter; `sleep` is injectable so tests never wait.

    `retry_statuses` are the answers waited out; any other non-2xx goes back to the
    caller (the bot leaves 429 out: its worker never sleeps on a rate limit). `pace`
    honours `X-RateLimit-Remaining: 0` by pausing the next request.
    """

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    retry_after_cap: float = 120.0
    jitter: float = 0.3
    sleep: Callable[[float], None] = time.sleep
    retry_statuses: frozenset[int] = RETRYABLE_STATUSES
    pace: bool = True

    def backoff(self, attempt: int) -> float:
        """Delay before retry number `attempt` (1-based): base·2^(n-1), capped, ±jitter."""
        delay = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return max(0.0, delay * random.uniform(1 - self.jitter, 1 + self.jitter))


@dataclass
class RequestStats:
    """Thread-safe counters of one extract run, plus the rate-limit pause gate."""

    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    _resume_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, kind: str, *, rate_limited: bool = False) -> None:
        with self._lock:
            self.requests += 1
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
            if rate_limited:
                self.rate_limited += 1

    def count_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def pause_for(self, seconds: float) -> None:
        """Hold every thread's next request for `seconds` (rate-limit window reset)."""
        with self._lock:
            self._resume_at = max(self._resume_at, time.monotonic() + seconds)

    def wait_turn(self, sleep: Callable[[float], None]) -> None:
        with self._lock:
            remaining = self._resume_at - time.monotonic()
        if remaining > 0:
            sleep(remaining)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "rate_limited": self.rate_limited,
                "retries": self.retries,
                "by_kind": dict(self.by_kind),
            }


def _seconds(value: str | None) -> float | None:
    """A header holding whole or fractional seconds; anything else (an HTTP date, ISO) → None."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def server_delay(response: httpx.Response, policy: RetryPolicy) -> float | None:
    """The wait the server asked for (`Retry-After`; on 429 also `X-RateLimit-Reset`), capped."""
    retry_after = _seconds(response.headers.get("Retry-After"))
    if retry_after is None and response.status_code == 429:
        retry_after = _seconds(response.headers.get("X-RateLimit-Reset"))
    return None if retry_after is None else min(retry_after, policy.retry_after_cap)


def _observe_rate_limit(response: httpx.Response, stats: RequestStats, policy: RetryPolicy) -> None:
    """Pyrus: `Remaining: 0` means the next call would be a 429; wait for the reset."""
    remaining = response.headers.get("X-RateLimit-Remaining")
    reset = _seconds(response.headers.get("X-RateLimit-Reset"))
    if remaining is not None and remaining.strip() == "0" and reset:
        pause = min(reset, policy.retry_after_cap)
        logger.info("rate-limit window exhausted; pausing %.1f s", pause)
        stats.pause_for(pause)


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    policy: RetryPolicy,
    stats: RequestStats,
    kind: str,
    expect_json: bool = True,
    idempotent: bool = True,
    deadline: float = math.inf,
    timeout: float | None = None,
    **kwargs: Any,
) -> tuple[httpx.Response, Any]:
    """Send one logical request with retries; return the response and its parsed JSON.

    Responses with a non-retryable status come back unparsed (JSON `None`) so the
    caller can map 401/404/429 itself. Raises `RetryableError` when every attempt failed
    or `deadline` (`time.monotonic()`) passed: each try's `timeout` and each sleep are
    cut to what is left of it. With `idempotent=False` only a request that never left is
    sent again; otherwise a transport error, 5xx or unreadable answer is `OutcomeUnknown`.
    """
    last_error = "no attempt made"
    attempts = 0
    for attempt in range(1, policy.max_attempts + 1):
        left = deadline - time.monotonic()
        if left <= 0:
            last_error = f"deadline passed ({last_error})"
            break
        attempts = attempt
        if attempt > 1:
            stats.count_retry()
        if policy.pace:
            stats.wait_turn(policy.sleep)
        if timeout is not None or math.isfinite(deadline):
            kwargs["timeout"] = min(timeout if timeout is not None else left, left)
        delay: float | None = None
        try:
            response = client.request(method, url, **kwargs)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
            stats.count(kind)
            if not idempotent and not isinstance(exc, NOT_SENT):
                raise OutcomeUnknown(
                    f"{method} {url}: sent, outcome unknown ({last_error})"
                ) from exc
        else:
            stats.count(kind, rate_limited=response.status_code == 429)
            if policy.pace:
                _observe_rate_limit(response, stats, policy)
            if response.status_code in policy.retry_statuses:
                last_error = f"HTTP {response.status_code} {response.text[:200]}".rstrip()
                delay = server_delay(response, policy)
                if not idempotent:
                    raise OutcomeUnknown(f"{method} {url}: sent, outcome unknown ({last_error})")
            elif not response.is_success or not expect_json:
                return response, None
            else:
                try:
                    return response, json.loads(response.content)
                except ValueError as exc:
                    last_error = f"truncated or invalid JSON ({len(response.content)} bytes): {exc}"
                    if not idempotent:  # a 2xx was sent: applied, but we cannot read the id
                        raise OutcomeUnknown(f"{method} {url}: applied, {last_error}") from exc
        if attempt == policy.max_attempts:
            break
        wait = delay if delay is not None else policy.backoff(attempt)
        wait = max(0.0, min(wait, deadline - time.monotonic()))
        logger.warning(
            "%s %s failed (%s); retry %d/%d in %.1f s",
            method,
            url,
            last_error,
            attempt,
            policy.max_attempts - 1,
            wait,
        )
        policy.sleep(wait)
    error_type = TruncatedResponse if last_error.startswith("truncated") else RetryableError
    raise error_type(f"{method} {url}: gave up after {attempts} attempts, last error: {last_error}")


def error_details(response: httpx.Response) -> tuple[str | None, str]:
    """The `error_code` and a short message from an error body of either API."""
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:200]
    if isinstance(body, dict):
        code = body.get("error_code")
        message = body.get("error") or body.get("message") or body.get("error_message") or ""
        return (str(code) if code else None), str(message)[:200]
    return None, str(body)[:200]
