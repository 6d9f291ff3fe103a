"""The one Pyrus API v4 client: auth, token cache, 401 re-auth and the retry policy.

The extract reads forms, the form register and single tasks through it; the bot's
posting layer (`assistant/bot/pyrus_client.py`) sends its calls through `call`, with a
webhook's token, the job's deadline and `idempotent=False` for the comment POST.
The token is cached per credential (Pyrus caps tokens per user, and a new one evicts
the oldest): in memory for the process and, with `token_cache_dir`, in a 0600 file that
other processes on the machine reuse (see `pyrus_tokens.py`). A 401 re-authenticates
exactly once; a second 401 is a credential problem, not a retry. A caller's token (a
webhook's) that gets a 401 first gives way to the shared one. The answer shapes it checks
are `pyrus_records.py`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from assistant.sources.http import (
    HttpStatusError,
    RequestStats,
    RetryPolicy,
    SourceError,
    error_details,
    send,
)
from assistant.sources.pyrus_records import (
    AuthResponse,
    RegisterPage,
    RegisterTask,
    TaskEnvelope,
    format_pyrus_datetime,
)
from assistant.sources.pyrus_tokens import Token, TokenCache, credential_key

logger = logging.getLogger(__name__)

DEFAULT_AUTH_URL = "https://accounts.pyrus.com/api/v4/auth"
DEFAULT_API_URL = "https://api.pyrus.com/v4/"


class PyrusAuthError(HttpStatusError):
    """Login or security key rejected, or a fresh token refused again."""


class PyrusLoginFailed(PyrusAuthError):
    """`POST /auth` itself failed (the bot treats it as an outage, the extract as config)."""


class TaskNotFound(HttpStatusError):
    """`GET /tasks/{id}` answered 404: deleted (or no longer visible) since the register."""


class PyrusClient:
    """A synchronous, thread-safe Pyrus client (share one across worker threads)."""

    def __init__(
        self,
        login: str | None,
        security_key: str | None,
        *,
        auth_url: str = DEFAULT_AUTH_URL,
        api_url: str | None = None,
        policy: RetryPolicy | None = None,
        stats: RequestStats | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        token_cache_dir: Path | None = None,
    ) -> None:
        self._login = login or ""
        self._security_key = security_key or ""
        self._auth_url = auth_url
        self._api_url_override = api_url
        key = credential_key(auth_url, self._login, self._security_key)
        self._tokens = TokenCache(key, token_cache_dir)
        self._learned_api_url: str | None = None
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.stats = stats or RequestStats()
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=10.0),
            headers={"Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PyrusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- auth ---------------------------------------------------------------------

    @property
    def can_authenticate(self) -> bool:
        """Whether a login and key are configured (the bot may run on webhook tokens only)."""
        return bool(self._login and self._security_key)

    @property
    def api_url(self) -> str:
        """The API base: configured, else the one `/auth` named, else the public cloud."""
        base = self._api_url_override or self._learned_api_url or DEFAULT_API_URL
        return base.rstrip("/") + "/"

    def _authenticate(self, deadline: float = math.inf) -> Token:
        if not self.can_authenticate:
            raise PyrusLoginFailed(
                "no Pyrus token and PYRUS_LOGIN/PYRUS_SECURITY_KEY are unset", status=401
            )
        response, body = send(
            self._http,
            "POST",
            self._auth_url,
            policy=self.policy,
            stats=self.stats,
            kind="auth",
            deadline=deadline,
            json={"login": self._login, "security_key": self._security_key},
        )
        if body is None:
            code, message = error_details(response)
            raise PyrusLoginFailed(
                f"Pyrus auth failed for {self._login}: HTTP {response.status_code} "
                f"{code or ''} {message}; check PYRUS_LOGIN / PYRUS_SECURITY_KEY",
                status=response.status_code,
                error_code=code,
                response=response,
            )
        try:
            auth = AuthResponse.model_validate(body)
        except ValidationError as exc:
            raise SourceError(f"Pyrus auth answered without access_token: {exc}") from exc
        self._learned_api_url = auth.api_url
        api_url = self._api_url_override or auth.api_url or DEFAULT_API_URL
        logger.info("authenticated to Pyrus as %s (api %s)", self._login, api_url)
        return Token(auth.access_token, api_url)

    def _token(self, *, stale: Token | None = None, deadline: float = math.inf) -> Token:
        """The shared token; with `stale`, replace it unless another client already did."""
        token = self._tokens.get(lambda: self._authenticate(deadline), stale=stale)
        if self._learned_api_url is None and self._api_url_override is None:
            self._learned_api_url = token.api_url  # a cached token knows its host
        return token

    # --- calls --------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        kind: str = "call",
        token: str | None = None,
        idempotent: bool = True,
        deadline: float = math.inf,
        **kwargs: Any,
    ) -> Any:
        """One API call through the retry policy; returns the decoded JSON.

        `token` (a webhook's) is tried first; a 401 then falls back to the shared token,
        and one more 401 re-authenticates once. Non-2xx answers the policy does not wait
        out raise `HttpStatusError` (`PyrusAuthError` on 401, `TaskNotFound` on 404).
        """
        current = Token(token, self.api_url) if token else self._token(deadline=deadline)
        reauthenticated = False
        while True:
            base = self._api_url_override or current.api_url  # a configured host wins
            url = base.rstrip("/") + "/" + path.lstrip("/")
            headers = {"Authorization": f"Bearer {current.access_token}"}
            response, body = send(
                self._http,
                method,
                url,
                policy=self.policy,
                stats=self.stats,
                kind=kind,
                headers=headers,
                idempotent=idempotent,
                deadline=deadline,
                timeout=self.timeout if math.isfinite(deadline) else None,
                **kwargs,
            )
            if body is not None:
                return body
            code, message = error_details(response)
            if response.status_code == 401 and self.can_authenticate and not reauthenticated:
                if token is not None:  # the caller's token expired: try the shared one first
                    token, shared = None, self._token(deadline=deadline)
                    if shared != current:
                        current = shared
                        continue
                logger.info("Pyrus answered 401 %s; re-authenticating once", code)
                current, reauthenticated = self._token(stale=current, deadline=deadline), True
                continue
            error_class: type[HttpStatusError] = HttpStatusError
            if response.status_code == 401:
                error_class = PyrusAuthError
            elif response.status_code == 404:
                error_class = TaskNotFound
            raise error_class(
                f"Pyrus {method} {path}: HTTP {response.status_code} {code or '-'} {message}",
                status=response.status_code,
                error_code=code,
                response=response,
            )

    def forms(self) -> list[dict[str, Any]]:
        """Every form the account can see, as raw payloads."""
        body = self.call("GET", "forms", kind="forms")
        forms = body.get("forms") if isinstance(body, dict) else None
        if not isinstance(forms, list):
            raise SourceError("Pyrus GET /forms: no 'forms' list in the answer")
        return [form for form in forms if isinstance(form, dict) and "id" in form]

    def form(self, form_id: int) -> dict[str, Any]:
        """`GET /forms/{id}`: one form definition (fields, choices) as the raw payload."""
        body = self.call("GET", f"forms/{form_id}", kind="forms")
        if not isinstance(body, dict) or not isinstance(body.get("fields"), list):
            raise SourceError(f"Pyrus GET /forms/{form_id}: no 'fields' list in the answer")
        return body

    def register_page(
        self,
        form_id: int,
        *,
        after_id: int = 0,
        modified_after: datetime | None = None,
        include_archived: bool = False,
        page_size: int = 1000,
    ) -> list[RegisterTask]:
        """One keyset page of a form's register: `sort=id&id=gt{after_id}&item_count=N`."""
        params: dict[str, str | int] = {
            "sort": "id",
            "id": f"gt{after_id}",
            "item_count": page_size,
        }
        if include_archived:
            params["include_archived"] = "y"
        if modified_after is not None:
            params["modified_after"] = format_pyrus_datetime(modified_after)
        body = self.call("GET", f"forms/{form_id}/register", kind="register", params=params)
        try:
            return RegisterPage.model_validate(body).tasks
        except ValidationError as exc:
            raise SourceError(f"Pyrus register of form {form_id}: bad page: {exc}") from exc

    def register_pages(
        self, form_id: int, *, page_size: int = 1000, **filters: Any
    ) -> Iterator[list[RegisterTask]]:
        """Every register page in id order, until a page comes back short."""
        after_id = 0
        while True:
            tasks = self.register_page(form_id, after_id=after_id, page_size=page_size, **filters)
            if tasks:
                yield tasks
                after_id = max(task.id for task in tasks)
            if len(tasks) < page_size:
                return

    def get_task(self, task_id: int) -> dict[str, Any]:
        """`GET /tasks/{id}`: the task with all comments, as the raw payload dict."""
        body = self.call("GET", f"tasks/{task_id}", kind="task")
        try:
            TaskEnvelope.model_validate(body)
        except ValidationError as exc:
            raise SourceError(f"Pyrus GET /tasks/{task_id}: unexpected shape: {exc}") from exc
        task = body["task"]
        if int(task["id"]) != task_id:
            raise SourceError(f"Pyrus GET /tasks/{task_id} returned task {task['id']}")
        return dict(task)
