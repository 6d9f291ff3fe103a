"""The bot's Pyrus HTTP client: post an internal comment, find our earlier one.

Split from `pipeline.py` at the I/O seam: this module knows the Pyrus API (auth,
retries with backoff on 429/5xx/timeouts, never on other 4xx) and nothing about the
inbox pipeline or the suggestion log.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

import httpx

from assistant.bot.comment_format import HEADING, CommentBody
from assistant.bot.inbox import PermanentJobError
from assistant.errors import KbError
from assistant.settings import AssistantSettings

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.pyrus.com/v4/"


class PyrusUnavailable(KbError):
    """Pyrus kept answering 429/5xx or timing out; the job is retried later."""


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

    def request(self, method: str, path: str, token: str | None, body: Any = None) -> Any:
        """One API call with retries; returns the decoded JSON."""
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
                if response.status_code != 429 and response.status_code < 500:
                    raise PermanentJobError(f"Pyrus refused {method} {path}: {last}")
            if attempt < self.retries:
                self.sleep(self._delay(response, attempt))
        raise PyrusUnavailable(
            f"Pyrus {method} {path} failed after {self.retries + 1} tries: {last}"
        )

    def post_comment(self, task_id: int, body: CommentBody, token: str | None) -> int | None:
        """Post an internal comment (no `channel`) and return its id."""
        reply = self.request("POST", f"tasks/{task_id}/comments", token, body.to_request())
        comments = ((reply or {}).get("task") or {}).get("comments") or []
        return int(comments[-1]["id"]) if comments else None

    def find_own_comment(
        self, task_id: int, token: str | None, bot_id: int | None, after_id: int | None
    ) -> int | None:
        """After an interrupted post: our comment on the task newer than `after_id`."""
        try:
            task = (self.request("GET", f"tasks/{task_id}", token) or {}).get("task") or {}
        except KbError as exc:
            logger.warning("cannot check task %d for an earlier comment: %s", task_id, exc)
            return None
        for comment in reversed(task.get("comments") or []):
            author_id = (comment.get("author") or {}).get("id")
            newer = after_id is None or int(comment["id"]) > after_id
            if (
                newer
                and str(comment.get("text") or "").startswith(HEADING)
                and (bot_id is None or author_id == bot_id)
            ):
                return int(comment["id"])
        return None
