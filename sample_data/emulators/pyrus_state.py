"""The Pyrus emulator's state: tokens, as-of task views, comments, faults, request log.

The HTTP layer (`pyrus.py`) only translates requests into calls on `PyrusState`, so tests
and the demo can also drive it from Python (advance the clock, expire tokens, delete a
task, create a fresh ticket).
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sample_data.emulators.dataset import Clock, Dataset, format_ts, parse_ts, task_as_of
from sample_data.emulators.faults import Faults, RateLimiter, RequestLog
from sample_data.emulators.pyrus_comments import CommentError, build_comment, new_task_from_ticket
from sample_data.emulators.pyrus_register import RegisterQuery


class PyrusApiError(Exception):
    """An error answer: HTTP status + Pyrus `error_code`."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message

    def body(self) -> dict[str, str]:
        return {"error": self.message, "error_code": self.error_code}


@dataclass
class Token:
    """An issued access token: whose it is and whether the expiry hook has hit it."""

    login: str
    person: dict[str, Any]
    expired: bool = False


@dataclass
class PyrusState:
    """Mutable emulator state over one dataset; every method is thread-safe."""

    dataset: Dataset
    clock: Clock
    credentials: dict[str, str]
    rate_limiter: RateLimiter = field(default_factory=RateLimiter)
    archive_after: timedelta = timedelta(0)  # closed for this long → "archived"
    default_item_count: int = 20000
    faults: Faults = field(default_factory=Faults)
    log: RequestLog = field(default_factory=RequestLog)
    deleted_task_ids: set[int] = field(default_factory=set)
    tokens: dict[str, Token] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _cache: dict[int, tuple[datetime, int, dict[str, Any] | None]] = field(default_factory=dict)
    _next_comment_id: int = 0

    def __post_init__(self) -> None:
        ids = [c["id"] for t in self.dataset.tasks.values() for c in t.get("comments", [])]
        self._next_comment_id = max(ids, default=1_000_000_000) + 1

    # --- people and tokens ---------------------------------------------------------------

    def person_for_login(self, login: str) -> dict[str, Any]:
        """The member whose email is `login`, or a bot person for a `bot@…` login."""
        members = self.dataset.members.get("members", [])
        for member in members:
            if member.get("email", "").lower() == login.lower():
                return member
        bot = self.dataset.metadata.get("bot_person")
        if isinstance(bot, dict):
            return {**bot, "email": login}
        person_id = max((m["id"] for m in members), default=1_000_000) + 1
        return {
            "id": person_id,
            "first_name": "ИИ-помощник",
            "last_name": "",
            "email": login,
            "type": "bot",
        }

    def authenticate(self, login: str | None, security_key: str | None) -> str:
        """POST /auth: check the pair, return a new access token."""
        if not login or not security_key or self.credentials.get(login) != security_key:
            raise PyrusApiError(401, "invalid_credentials", "Invalid login/secret_key.")
        return self.issue_token(login)

    def issue_token(self, login: str) -> str:
        token = "emu-" + secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = Token(login=login, person=self.person_for_login(login))
        return token

    def check_token(self, authorization: str | None) -> Token:
        """Bearer check with Pyrus's error codes."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise PyrusApiError(401, "token_not_specified", "Access token is not specified.")
        token = self.tokens.get(authorization[7:].strip())
        if token is None:
            raise PyrusApiError(401, "invalid_token", "Access token is invalid.")
        if token.expired:
            raise PyrusApiError(401, "expired_token", "Access token has expired.")
        return token

    def expire_all_tokens(self) -> None:
        """Test hook: every issued token answers 401 `expired_token` from now on."""
        with self._lock:
            for token in self.tokens.values():
                token.expired = True

    # --- tasks -----------------------------------------------------------------------------

    def delete_task(self, task_id: int) -> None:
        """Fault: the register still lists the task but GET /tasks/{id} answers 404."""
        with self._lock:
            self.deleted_task_ids.add(task_id)

    def view(self, task_id: int) -> dict[str, Any] | None:
        """The task as of the clock's time (cached per clock value and task version)."""
        at = self.clock.now()
        with self._lock:
            task = self.dataset.tasks.get(task_id)
            if task is None:
                return None
            version = self.dataset.versions.get(task_id, 0)
            cached = self._cache.get(task_id)
            if cached and cached[0] == at and cached[1] == version:
                return cached[2]
            view = task_as_of(task, at, extra=task_id in self.dataset.versions)
            self._cache[task_id] = (at, version, view)
            return view

    def get_task(self, task_id: int) -> dict[str, Any]:
        view = None if task_id in self.deleted_task_ids else self.view(task_id)
        if view is None:
            raise PyrusApiError(404, "task_not_found", "Задача не найдена.")
        return view

    def is_archived(self, view: dict[str, Any]) -> bool:
        closed = view.get("close_date")
        return bool(closed) and parse_ts(closed) + self.archive_after <= self.clock.now()

    def register(self, form_id: int, params: dict[str, Any]) -> list[dict[str, Any]]:
        """GET|POST /forms/{id}/register: filtered, id-ascending, at most item_count."""
        if form_id != self.dataset.form_id:
            raise PyrusApiError(403, "access_denied_form", "Access to the form is denied.")
        query = RegisterQuery(params)
        limit = query.item_count or self.default_item_count
        result = []
        for task_id in sorted(self.dataset.tasks):
            view = self.view(task_id)
            if view is None or not query.matches(view, archived=self.is_archived(view)):
                continue
            result.append(query.render(view))
            if len(result) >= limit:
                break
        return result

    def post_comment(self, task_id: int, body: Any, token: Token) -> dict[str, Any]:
        """POST /tasks/{id}/comments: validate, store, return the updated task."""
        view = self.get_task(task_id)
        try:
            comment = build_comment(
                body, self.dataset, view, token.person, self.clock.now(), self._take_comment_id()
            )
        except CommentError as exc:
            raise PyrusApiError(400, exc.error_code, str(exc)) from exc
        with self._lock:
            task = self.dataset.tasks[task_id]
            task["comments"].append(comment)
            if comment.get("approval_choice") and task.get("approvals"):
                _record_approval(task, comment, token.person)
            self.dataset.touch(task_id)
        return self.get_task(task_id)

    def create_task(self, ticket: dict[str, Any]) -> dict[str, Any]:
        """Create a fresh ticket now (from a `new_tickets.jsonl`-style dict); return its view."""
        with self._lock:
            task_id = max(self.dataset.tasks, default=200_000_000) + 1
            task = new_task_from_ticket(
                ticket, self.dataset, task_id, self.clock.now(), self._take_comment_id()
            )
            self.dataset.tasks[task_id] = task
            self.dataset.touch(task_id)
        return self.get_task(task_id)

    def add_comment(self, task_id: int, comment: dict[str, Any]) -> dict[str, Any]:
        """A comment written in Pyrus by someone else (a customer's e-mail, an engineer's
        note): stored as given, with a fresh id and the emulator's time. Demo and tests."""
        with self._lock:
            stored = {**comment, "id": self._take_comment_id()}
            stored.setdefault("create_date", format_ts(self.clock.now()))
            self.dataset.tasks[task_id]["comments"].append(stored)
            self.dataset.touch(task_id)
        return stored

    def _take_comment_id(self) -> int:
        with self._lock:
            value = self._next_comment_id
            self._next_comment_id += 1
            return value

    def forms(self) -> dict[str, Any]:
        return {"forms": [self.dataset.form]}

    def form(self, form_id: int) -> dict[str, Any]:
        if form_id != self.dataset.form_id:
            raise PyrusApiError(403, "access_denied_form", "Access to the form is denied.")
        return self.dataset.form


def _record_approval(task: dict[str, Any], comment: dict[str, Any], person: dict[str, Any]) -> None:
    """Mark the author's approval; when a step is fully approved, move to the next step."""
    step = int(comment.get("approval_step") or task.get("current_step", 1))
    approvals = task["approvals"]
    if not 0 < step <= len(approvals):
        return
    for entry in approvals[step - 1]:
        if entry.get("person", {}).get("id") == person.get("id"):
            entry["approval_choice"] = comment["approval_choice"]
    all_done = all(e.get("approval_choice") == "approved" for e in approvals[step - 1])
    if all_done and step < len(approvals) and step == task.get("current_step", 1):
        comment["changed_step"] = step + 1
        task["current_step"] = step + 1


def dumps(payload: Any) -> bytes:
    """Compact UTF-8 JSON, like the real API."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


__all__ = ["PyrusApiError", "PyrusState", "Token", "dumps"]
