"""The bot's layer over the one Pyrus client: post an internal comment, find our earlier one.

Auth, the shared token cache, 401 re-auth and the retry policy are
`assistant/sources/pyrus.py` and `assistant/sources/http.py`, the same as the extract's.
This layer configures them for a worker (429 is not slept on, every call is bounded by
the job's deadline, the comment POST is non-idempotent) and maps their errors onto the
inbox's: transient, retry-later, permanent. It knows nothing of the inbox pipeline or the
suggestion log.

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
import time
from collections.abc import Callable
from typing import Any

import httpx

from assistant.bot.comment_format import HEADING, CommentBody
from assistant.bot.inbox import PermanentJobError, RetryLater, TransientJobError
from assistant.errors import KbError
from assistant.settings import AssistantSettings
from assistant.sources.http import (
    RETRYABLE_STATUSES,
    HttpStatusError,
    OutcomeUnknown,
    RetryPolicy,
    SourceError,
    server_delay,
)
from assistant.sources.pyrus import PyrusClient, PyrusLoginFailed

logger = logging.getLogger(__name__)


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
    """The bot's Pyrus calls: retries on 5xx/timeouts, 429 back to the inbox, never other 4xx."""

    def __init__(
        self,
        settings: AssistantSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_sleep_seconds: float = 30.0,
    ) -> None:
        self.settings = settings
        self.retries = settings.pyrus_post_retries
        self.max_sleep_seconds = max_sleep_seconds
        self.max_rate_wait = settings.pyrus_rate_limit_max_wait_seconds
        self.timeout = settings.pyrus_timeout_seconds
        self.policy = RetryPolicy(
            max_attempts=self.retries + 1,
            base_delay=0.5,
            max_delay=max_sleep_seconds,
            retry_after_cap=max_sleep_seconds,
            sleep=sleep,
            retry_statuses=RETRYABLE_STATUSES - {429},
            pace=False,
        )
        key = settings.pyrus_security_key
        self.client = PyrusClient(
            settings.pyrus_login,
            key.get_secret_value() if key else None,
            auth_url=settings.pyrus_auth_url,
            api_url=settings.pyrus_api_url,
            policy=self.policy,
            transport=transport,
            timeout=self.timeout,
            token_cache_dir=settings.kb_data_dir / "tokens",
        )

    @property
    def api_url(self) -> str:
        return self.client.api_url

    @property
    def max_call_seconds(self) -> float:
        """The longest one `request` can take: every try timing out, every sleep taken."""
        return (self.retries + 1) * self.timeout + self.retries * self.max_sleep_seconds

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
        if not token and not self.client.can_authenticate:
            raise PermanentJobError(
                "no access token in the webhook and PYRUS_LOGIN/PYRUS_SECURITY_KEY are unset"
            )
        if deadline - time.monotonic() <= 0:
            raise PyrusUnavailable(f"Pyrus {method} {path}: no time left of the job's deadline")
        try:
            return self.client.call(
                method,
                path,
                kind="bot",
                token=token,
                idempotent=idempotent,
                deadline=deadline,
                json=body,
            )
        except OutcomeUnknown as exc:
            raise PostOutcomeUnknown(
                f"Pyrus {method} {path}: {exc}",
                recheck_seconds=self.settings.bot_post_recheck_seconds,
            ) from exc
        except PyrusLoginFailed as exc:  # the auth host refused or is down: an outage
            raise PyrusUnavailable(f"Pyrus auth failed: {exc}") from exc
        except HttpStatusError as exc:
            if exc.status == 429 and exc.response is not None:
                delay = server_delay(exc.response, self.policy)
                if delay is None:
                    delay = self.policy.backoff(1)
                raise PyrusRateLimited(
                    f"Pyrus rate-limited {method} {path}",
                    delay_seconds=min(delay, self.max_rate_wait),
                ) from exc
            raise PermanentJobError(f"Pyrus refused {method} {path}: {exc}") from exc
        except SourceError as exc:  # 5xx or timeouts on every try, or the deadline passed
            raise PyrusUnavailable(f"Pyrus {method} {path} failed: {exc}") from exc

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
