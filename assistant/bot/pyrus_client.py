"""The bot's Pyrus HTTP client: post an internal comment, find our earlier one.

Split from `pipeline.py` at the I/O seam: this module knows the Pyrus API (auth,
retries with backoff on 5xx/timeouts, never on other 4xx) and nothing about the inbox
pipeline or the suggestion log.

`POST /tasks/{id}/comments` is not idempotent, and Pyrus may apply it late: after a
timeout, a dropped connection or a 5xx the comment may be on the task already, or land
there seconds later. So a POST is retried here only when it never left (the connection
was refused); any other failure is `PostOutcomeUnknown`, and the job goes back to the
inbox for `BOT_POST_RECHECK_SECONDS`. Every comment carries a short marker (`kb:<inbox
id>`, a footer line of `text`; docs/pyrus-api.md §5: comments keep `text` as sent) and
the pipeline searches the task for it before it posts again (docs/reliability.md). A 429
is never slept on in the worker: `PyrusRateLimited` tells the inbox to put the job back
with a not-before time, so other tickets' jobs go on meanwhile. Every call takes the
job's overall deadline: timeouts and sleeps are cut to what is left of it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import time
from collections.abc import Callable
from typing import Any

import httpx

from assistant.bot.comment_format import HEADING, CommentBody
from assistant.bot.inbox import PermanentJobError, RetryLater, TransientJobError
from assistant.errors import KbError
from assistant.settings import AssistantSettings

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.pyrus.com/v4/"


class PyrusUnavailable(TransientJobError):
    """Pyrus kept answering 5xx or timing out; the job is retried later."""


class PostOutcomeUnknown(PyrusUnavailable):
    """A POST was sent but its answer is missing: Pyrus may apply it, even late.

    The job must not post again until `min_delay_seconds` have passed and the task was
    searched for its marker.
    """

    def __init__(self, message: str, *, recheck_seconds: float) -> None:
        super().__init__(message)
        self.min_delay_seconds = recheck_seconds


_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
"""Transport errors raised before a request left: retrying them cannot post twice."""


class PyrusRateLimited(RetryLater):
    """Pyrus answered 429: the job goes back to the inbox with a not-before time."""


MARKER_PREFIX = "kb:"


def comment_marker(inbox_id: int) -> str:
    """The idempotency marker of the comment posted for one inbox job."""
    return f"{MARKER_PREFIX}{inbox_id}"


def with_marker(body: CommentBody, marker: str | None) -> CommentBody:
    """The body with the marker as its last line (plain text and HTML), once."""
    if not marker or marker in body.text:
        return body
    return dataclasses.replace(
        body,
        text=f"{body.text}\n\n{marker}",
        formatted_text=f"{body.formatted_text}<p><small>{marker}</small></p>",
    )


def has_marker(comment: dict[str, Any], marker: str) -> bool:
    """Whether a Pyrus comment carries exactly this marker (not `kb:12` for `kb:1`)."""
    for key in ("text", "formatted_text"):
        text = str(comment.get(key) or "")
        for line in text.replace("<", "\n<").replace(">", ">\n").splitlines():
            if line.strip() == marker:
                return True
    return False


# --- posting comments -----------------------------------------------------------------


class PyrusPoster:
    """`POST /tasks/{id}/comments` with retries on 429/5xx/timeouts (never other 4xx)."""

    def __init__(
        self,
        settings: AssistantSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_sleep_seconds: float = 30.0,
    ) -> None:
        self.settings = settings
        self.api_url = (settings.pyrus_api_url or DEFAULT_API_URL).rstrip("/") + "/"
        self.retries = settings.pyrus_post_retries
        self.sleep = sleep
        self.max_sleep_seconds = max_sleep_seconds
        self.max_rate_wait = settings.pyrus_rate_limit_max_wait_seconds
        self.timeout = settings.pyrus_timeout_seconds
        self._client = httpx.Client(timeout=self.timeout, transport=transport)
        self._own_token: str | None = None

    @property
    def max_call_seconds(self) -> float:
        """The longest one `request` can take: every try timing out, every sleep taken."""
        return (self.retries + 1) * self.timeout + self.retries * self.max_sleep_seconds

    def _authenticate(self, deadline: float = math.inf) -> str:
        """A token from the bot's own login and key (when the payload token is missing)."""
        if not self.settings.pyrus_login or not self.settings.pyrus_security_key:
            raise PermanentJobError(
                "no access token in the webhook and PYRUS_LOGIN/PYRUS_SECURITY_KEY are unset"
            )
        left = deadline - time.monotonic()
        if left <= 0:
            raise PyrusUnavailable("no time left of the job's deadline to authenticate")
        try:
            response = self._client.post(
                self.settings.pyrus_auth_url,
                timeout=min(self.timeout, left),
                json={
                    "login": self.settings.pyrus_login,
                    "security_key": self.settings.pyrus_security_key.get_secret_value(),
                },
            )
        except httpx.TransportError as exc:  # the auth host is unreachable: an outage
            raise PyrusUnavailable(f"Pyrus auth failed: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise PyrusUnavailable(f"Pyrus auth failed with HTTP {response.status_code}")
        data = response.json()
        self._own_token = str(data["access_token"])
        if not self.settings.pyrus_api_url and data.get("api_url"):
            self.api_url = str(data["api_url"]).rstrip("/") + "/"  # cloud: use the given host
        return self._own_token

    def _delay(self, response: httpx.Response | None, attempt: int) -> float:
        if response is not None:
            headers = (
                ("Retry-After", "X-RateLimit-Reset")
                if response.status_code == 429
                else ("Retry-After",)
            )
            for header in headers:
                value = response.headers.get(header)
                if value and value.replace(".", "", 1).isdigit():
                    return min(float(value), self.max_sleep_seconds)
        return min(self.max_sleep_seconds, 0.5 * 2**attempt + random.uniform(0, 0.25))

    def request(
        self,
        method: str,
        path: str,
        token: str | None,
        body: Any = None,
        *,
        idempotent: bool = True,
        deadline: float = math.inf,
    ) -> Any:
        """One API call with retries on 5xx/timeouts; returns the decoded JSON.

        A non-idempotent call is retried only when it never left; once sent, a missing
        or 5xx answer is `PostOutcomeUnknown`. `deadline` (time.monotonic()) bounds the
        whole call: each try's timeout and each sleep are cut to what is left. A 429
        raises `PyrusRateLimited`.
        """
        token = token or self._own_token or self._authenticate(deadline)
        reauthenticated = False
        last = "no attempt"
        for attempt in range(self.retries + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            response = None
            try:
                response = self._client.request(
                    method,
                    self.api_url + path.lstrip("/"),
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=min(self.timeout, left),
                )
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}"
                if not idempotent and not isinstance(exc, _NOT_SENT):
                    raise self._unknown(method, path, last) from exc
            else:
                if response.status_code < 300:
                    return response.json()
                last = f"HTTP {response.status_code} {response.text[:200]}"
                can_reauth = not reauthenticated and bool(self.settings.pyrus_login)
                if response.status_code == 401 and can_reauth:
                    token, reauthenticated = self._authenticate(deadline), True
                    continue
                if response.status_code == 429:
                    raise PyrusRateLimited(
                        f"Pyrus rate-limited {method} {path}",
                        delay_seconds=min(self._delay(response, attempt), self.max_rate_wait),
                    )
                if response.status_code < 500:
                    raise PermanentJobError(f"Pyrus refused {method} {path}: {last}")
                if not idempotent:
                    raise self._unknown(method, path, last)
            if attempt < self.retries:
                left = deadline - time.monotonic()
                self.sleep(max(0.0, min(self._delay(response, attempt), left)))
        raise PyrusUnavailable(f"Pyrus {method} {path} failed after {attempt + 1} tries: {last}")

    def _unknown(self, method: str, path: str, last: str) -> PostOutcomeUnknown:
        return PostOutcomeUnknown(
            f"Pyrus {method} {path}: sent, outcome unknown ({last})",
            recheck_seconds=self.settings.bot_post_recheck_seconds,
        )

    def post_comment(
        self,
        task_id: int,
        body: CommentBody,
        token: str | None,
        *,
        marker: str | None = None,
        deadline: float = math.inf,
    ) -> int | None:
        """Post an internal comment (no `channel`), sent at most once, and return its id.

        Raises `PostOutcomeUnknown` when the POST left but no answer says what happened:
        the caller looks for the marker later instead of posting again now.
        """
        marked = with_marker(body, marker)
        path = f"tasks/{task_id}/comments"
        reply = self.request(
            "POST", path, token, marked.to_request(), idempotent=False, deadline=deadline
        )
        comments = ((reply or {}).get("task") or {}).get("comments") or []
        if marker is not None:
            for comment in reversed(comments):
                if has_marker(comment, marker):
                    return int(comment["id"])
        return int(comments[-1]["id"]) if comments else None

    def _task_comments(
        self, task_id: int, token: str | None, deadline: float = math.inf
    ) -> list[dict[str, Any]]:
        reply = self.request("GET", f"tasks/{task_id}", token, deadline=deadline) or {}
        return list((reply.get("task") or {}).get("comments") or [])

    def find_own_comment(
        self,
        task_id: int,
        token: str | None,
        bot_id: int | None,
        after_id: int | None,
        *,
        marker: str | None = None,
        deadline: float = math.inf,
    ) -> int | None:
        """After an interrupted post: our comment on the task (by marker, else by heading).

        Raises `PyrusUnavailable` when the task cannot be read: the caller must not post
        blind, the job is retried later.
        """
        try:
            comments = self._task_comments(task_id, token, deadline)
        except (PyrusRateLimited, PermanentJobError):
            raise  # a wait, or a refusal (the task is gone or closed to the bot): not an outage
        except KbError as exc:
            raise PyrusUnavailable(
                f"cannot check task {task_id} for an earlier comment: {exc}"
            ) from exc
        for comment in reversed(comments):
            if marker is not None:
                if has_marker(comment, marker):
                    return int(comment["id"])
                continue
            author_id = (comment.get("author") or {}).get("id")
            newer = after_id is None or int(comment["id"]) > after_id
            if (
                newer
                and str(comment.get("text") or "").startswith(HEADING)
                and (bot_id is None or author_id == bot_id)
            ):
                return int(comment["id"])
        return None
