"""The bot's Pyrus HTTP client: post an internal comment, find our earlier one.

Split from `pipeline.py` at the I/O seam: this module knows the Pyrus API (auth,
retries with backoff on 5xx/timeouts, never on other 4xx) and nothing about the inbox
pipeline or the suggestion log.

`POST /tasks/{id}/comments` is not idempotent: after a timeout or a 5xx the comment may
well be on the task already (Pyrus applied it, the answer got lost). So every comment
carries a short marker (`kb:<inbox id>`, a footer line of `text`; docs/pyrus-api.md §5:
comments keep `text` as sent) and, before any retry of the POST, the task's comments are
searched for it; if the check itself fails the POST is not retried here (the inbox
retries the job later, and the pipeline checks again first). A 429 is never slept on in
the worker: `PyrusRateLimited` tells the inbox to put the job back with a not-before
time, so other tickets' jobs go on meanwhile.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import httpx

from assistant.bot.comment_format import HEADING, CommentBody
from assistant.bot.inbox import PermanentJobError, RetryLater
from assistant.errors import KbError
from assistant.settings import AssistantSettings

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.pyrus.com/v4/"


class PyrusUnavailable(KbError):
    """Pyrus kept answering 5xx or timing out; the job is retried later."""


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
        self._client = httpx.Client(timeout=settings.pyrus_timeout_seconds, transport=transport)
        self._own_token: str | None = None

    def _authenticate(self) -> str:
        """A token from the bot's own login and key (when the payload token is missing)."""
        if not self.settings.pyrus_login or not self.settings.pyrus_security_key:
            raise PermanentJobError(
                "no access token in the webhook and PYRUS_LOGIN/PYRUS_SECURITY_KEY are unset"
            )
        response = self._client.post(
            self.settings.pyrus_auth_url,
            json={
                "login": self.settings.pyrus_login,
                "security_key": self.settings.pyrus_security_key.get_secret_value(),
            },
        )
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
        before_retry: Callable[[], Any] | None = None,
    ) -> Any:
        """One API call with retries on 5xx/timeouts; returns the decoded JSON.

        `before_retry` runs before every retry; a non-None result ends the call with it
        (the POST turned out to be applied already). A 429 raises `PyrusRateLimited`.
        """
        token = token or self._own_token or self._authenticate()
        reauthenticated = False
        last = "no attempt"
        for attempt in range(self.retries + 1):
            response = None
            try:
                response = self._client.request(
                    method,
                    self.api_url + path.lstrip("/"),
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                )
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}"
            else:
                if response.status_code < 300:
                    return response.json()
                last = f"HTTP {response.status_code} {response.text[:200]}"
                can_reauth = not reauthenticated and bool(self.settings.pyrus_login)
                if response.status_code == 401 and can_reauth:
                    token, reauthenticated = self._authenticate(), True
                    continue
                if response.status_code == 429:
                    raise PyrusRateLimited(
                        f"Pyrus rate-limited {method} {path}",
                        delay_seconds=min(self._delay(response, attempt), self.max_rate_wait),
                    )
                if response.status_code < 500:
                    raise PermanentJobError(f"Pyrus refused {method} {path}: {last}")
            if attempt < self.retries:
                if before_retry is not None and (found := before_retry()) is not None:
                    return found
                self.sleep(self._delay(response, attempt))
        raise PyrusUnavailable(
            f"Pyrus {method} {path} failed after {self.retries + 1} tries: {last}"
        )

    def post_comment(
        self,
        task_id: int,
        body: CommentBody,
        token: str | None,
        *,
        marker: str | None = None,
    ) -> int | None:
        """Post an internal comment (no `channel`) at most once and return its id.

        With a `marker`, a timeout or 5xx is followed by a look for the marked comment
        before the POST is sent again; a failed look stops the retries
        (`PyrusUnavailable`), because posting blind could post twice.
        """
        marked = with_marker(body, marker)
        path = f"tasks/{task_id}/comments"

        def already_posted() -> Any:
            if marker is None:
                return None
            try:
                found = self._find_marked(task_id, token, marker)
            except PyrusRateLimited:
                raise  # not applied knowledge either way: the job waits and checks again
            except KbError as exc:
                raise PyrusUnavailable(
                    f"cannot check task {task_id} for comment {marker} before a retry: {exc}"
                ) from exc
            if found is None:
                return None
            logger.info("task %d: comment %s was posted already (id %d)", task_id, marker, found)
            return {"task": {"comments": [{"id": found}]}}

        reply = self.request("POST", path, token, marked.to_request(), before_retry=already_posted)
        comments = ((reply or {}).get("task") or {}).get("comments") or []
        if marker is not None:
            for comment in reversed(comments):
                if has_marker(comment, marker):
                    return int(comment["id"])
        return int(comments[-1]["id"]) if comments else None

    def _task_comments(self, task_id: int, token: str | None) -> list[dict[str, Any]]:
        task = (self.request("GET", f"tasks/{task_id}", token) or {}).get("task") or {}
        return list(task.get("comments") or [])

    def _find_marked(self, task_id: int, token: str | None, marker: str) -> int | None:
        for comment in reversed(self._task_comments(task_id, token)):
            if has_marker(comment, marker):
                return int(comment["id"])
        return None

    def find_own_comment(
        self,
        task_id: int,
        token: str | None,
        bot_id: int | None,
        after_id: int | None,
        *,
        marker: str | None = None,
    ) -> int | None:
        """After an interrupted post: our comment on the task (by marker, else by heading).

        Raises `PyrusUnavailable` when the task cannot be read: the caller must not post
        blind, the job is retried later.
        """
        try:
            comments = self._task_comments(task_id, token)
        except PyrusRateLimited:
            raise
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
