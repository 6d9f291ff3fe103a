"""The pipeline for one inbox job: decide, log the arm, suggest, post an internal comment.

Order matters for the effect measurement (effect-measurement.md §3.1): the arm is
written to `assistant.suggestions` at decision time, before anything can fail, so a
posting failure never turns a treated ticket into "control". Holdout tickets get the
same suggestion generated and logged, but nothing is posted. A rerun of a job (after a
crash or a retry) reuses the stored suggestion and posts at most once: a comment
already recorded is never posted again, and after an interrupted post the task's
comments are checked for ours before posting again.

The comment is posted without `channel` (pyrus-api.md §5): it stays inside Pyrus and
never reaches the customer.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, ValidationError

from assistant.arms import arm_unit_value, assign_arm
from assistant.comment_format import HEADING, CommentBody, format_comment
from assistant.errors import KbError
from assistant.inbox import Job, PermanentJobError
from assistant.rag import Suggester, Suggestion
from assistant.settings import AssistantSettings

logger = logging.getLogger(__name__)

ACTED_EVENTS = frozenset({"comment", "task_created"})
DEFAULT_API_URL = "https://api.pyrus.com/v4/"


class PyrusUnavailable(KbError):
    """Pyrus kept answering 429/5xx or timing out; the job is retried later."""


# --- the webhook payload (pydantic at the boundary) ----------------------------------


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class PyrusPerson(_Open):
    id: int | None = None
    first_name: str | None = None
    last_name: str | None = None
    type: str | None = None


class PyrusComment(_Open):
    id: int
    text: str | None = None
    create_date: str | None = None
    author: PyrusPerson | None = None
    channel: dict[str, Any] | None = None


class PyrusTask(_Open):
    id: int
    form_id: int | None = None
    text: str | None = None
    subject: str | None = None
    create_date: str | None = None
    close_date: str | None = None
    author: PyrusPerson | None = None
    fields: list[dict[str, Any]] = []
    comments: list[PyrusComment] = []


class WebhookPayload(_Open):
    """What Pyrus POSTs to the bot (pyrus-api.md §7)."""

    event: str = "comment"
    access_token: str | None = None
    task_id: int | None = None
    user_id: int | None = None
    bot_settings: str | None = None
    task: PyrusTask


@dataclass(frozen=True)
class TicketText:
    """The parts of a task the suggestion is built from."""

    subject: str
    description: str
    customer_name: str | None


def _flat_fields(fields: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    for item in fields:
        yield item
        value = item.get("value")
        if isinstance(value, dict) and isinstance(value.get("fields"), list):
            yield from _flat_fields(value["fields"])


def _field_text(task: PyrusTask, *needles: str) -> str:
    for item in _flat_fields(task.fields):
        name = str(item.get("name") or "").lower()
        code = str(item.get("code") or "").lower()
        if (
            item.get("type") == "text"
            and isinstance(item.get("value"), str)
            and any(needle in name or needle in code for needle in needles)
        ):
            return item["value"].strip()
    return ""


def ticket_from_task(task: PyrusTask) -> TicketText:
    """Subject and description of a ticket; works for form tasks and plain ones."""
    subject = _field_text(task, "тема", "subject") or (task.subject or "").strip()
    if not subject and task.text:
        subject = task.text.split(": ", 1)[-1].strip()
    description = _field_text(task, "описание", "description", "вопрос", "текст")
    first = task.comments[0] if task.comments else None
    if first is not None and first.text and first.text.strip() not in description:
        description = "\n".join(part for part in (description, first.text.strip()) if part)
    name = None
    if first is not None and first.channel:
        sender = (first.channel.get("from") or {}).get("name")
        name = str(sender).split()[0] if sender and str(sender).strip() else None
    if name is None and task.author and task.author.type in (None, "user"):
        name = (task.author.first_name or "").strip() or None
    return TicketText(subject=subject, description=description[:8000], customer_name=name)


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


# --- the suggestion log ---------------------------------------------------------------


def decide_arm(
    conn: psycopg.Connection,
    task_id: int,
    holdout_share: float,
    *,
    origin: str,
    inbox_id: int | None,
    decided_at: datetime | None = None,
) -> dict[str, Any]:
    """Write the arm once per ticket (first decision wins) and return the ticket's row."""
    conn.execute(
        """
        insert into assistant.suggestions
            (task_id, arm, arm_unit, holdout_share, decided_at, origin, inbox_id)
        values (%s, %s, %s, %s, coalesce(%s, now()), %s, %s)
        on conflict (task_id) do nothing
        """,
        (
            task_id,
            assign_arm(task_id, holdout_share),
            arm_unit_value(task_id),
            holdout_share,
            decided_at,
            origin,
            inbox_id,
        ),
    )
    cursor = conn.execute(
        "select task_id, arm, inbox_id, generated_at, posted_at, comment_id, comment_text,"
        " comment_html, draft_reply, post_attempts, posted_inbox_id"
        " from assistant.suggestions where task_id = %s",
        (task_id,),
    )
    names = [column.name for column in cursor.description or []]
    row = cursor.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


def save_suggestion(
    conn: psycopg.Connection,
    task_id: int,
    suggestion: Suggestion,
    body: CommentBody,
    *,
    inbox_id: int | None = None,
) -> None:
    """Store what was generated (idempotent: a rerun overwrites with the same facts)."""
    conn.execute(
        """
        update assistant.suggestions set
            inbox_id = coalesce(%s, inbox_id), mode = %s, category_code = %s,
            category_confidence = %s, category_method = %s, taxonomy_version = %s,
            retrieval = %s, embedder_version = %s, no_good_match = %s, model = %s,
            prompt_version = %s, llm_error = %s, confidence = %s, cited_chunk_ids = %s,
            retrieve_ms = %s, llm_ms = %s, prompt_tokens = %s, completion_tokens = %s,
            recommendation = %s, draft_reply = %s, comment_text = %s, comment_html = %s,
            generated_at = now(), updated_at = now()
        where task_id = %s
        """,
        (
            inbox_id,
            suggestion.mode,
            suggestion.category_code,
            suggestion.category_confidence,
            suggestion.category_method,
            suggestion.taxonomy_version,
            Jsonb(suggestion.retrieval),
            suggestion.embedder,
            suggestion.no_good_match,
            suggestion.model,
            suggestion.prompt_version,
            suggestion.llm_error,
            suggestion.confidence,
            Jsonb([ref.chunk_id for ref in suggestion.sources]),
            suggestion.retrieve_ms,
            suggestion.llm_ms,
            suggestion.prompt_tokens,
            suggestion.completion_tokens,
            "\n".join(f"{i}. {step}" for i, step in enumerate(suggestion.steps, 1)),
            suggestion.draft_reply,
            body.text,
            body.formatted_text,
            task_id,
        ),
    )


def record_category(conn: psycopg.Connection, task_id: int, suggestion: Suggestion) -> None:
    """Log the category decision through the categorizer's own log, when it exists."""
    if suggestion.category_decision is None:
        return
    try:
        from assistant.categorize import record_decision  # type: ignore[import-not-found]
    except ImportError:
        return
    try:
        record_decision(conn, task_id, suggestion.category_decision)
    except (KbError, psycopg.Error) as exc:  # the suggestion matters more than this log
        logger.warning("category decision for task %d not recorded: %s", task_id, exc)


# --- the pipeline -----------------------------------------------------------------------


SuggesterFactory = Callable[[psycopg.Connection], Suggester]


@dataclass
class BotPipeline:
    """Handles inbox jobs; `handle_job` is the `JobHandler` given to `InboxWorker`."""

    settings: AssistantSettings
    suggester_factory: SuggesterFactory
    poster: PyrusPoster
    category_names: dict[str, str] = field(default_factory=dict)
    _suggester: Suggester | None = None
    _suggester_conn: psycopg.Connection | None = None

    def suggester(self, conn: psycopg.Connection) -> Suggester:
        """One suggester per connection (the retriever keeps it)."""
        if self._suggester is None or self._suggester_conn is not conn:
            self._suggester, self._suggester_conn = self.suggester_factory(conn), conn
        return self._suggester

    def skip_reason(
        self, conn: psycopg.Connection, payload: WebhookPayload, job: Job
    ) -> str | None:
        """Why this event gets no suggestion, or None to act on it."""
        if payload.event not in ACTED_EVENTS:
            return f"event {payload.event!r} is not acted on"
        form_ids = self.settings.pyrus_form_ids
        if form_ids and payload.task.form_id not in form_ids:
            return f"form {payload.task.form_id} is not in PYRUS_FORM_IDS"
        last = payload.task.comments[-1] if payload.task.comments else None
        if (
            last is not None
            and last.author is not None
            and payload.user_id is not None
            and (last.author.id == payload.user_id)
        ):
            return "the last comment is the bot's own"
        row = conn.execute(
            "select inbox_id from assistant.suggestions where task_id = %s", (job.task_id,)
        ).fetchone()
        if row is not None and row[0] != job.id and not self.settings.bot_act_on_later_events:
            return "a later event of a ticket already handled"
        return None

    def handle_job(self, conn: psycopg.Connection, job: Job) -> tuple[str, str]:
        """Process one inbox job end to end; returns (status, outcome)."""
        try:
            payload = WebhookPayload.model_validate(job.payload)
        except ValidationError as exc:
            raise PermanentJobError(f"stored payload is invalid: {exc.errors()[0]['msg']}") from exc
        reason = self.skip_reason(conn, payload, job)
        if reason is not None:
            return "skipped", reason
        row = decide_arm(
            conn, job.task_id, self.settings.assistant_holdout, origin="webhook", inbox_id=job.id
        )
        later = row["inbox_id"] != job.id
        if later and not self.settings.bot_act_on_later_events:
            return "skipped", "a later event of a ticket already handled"  # lost a race
        if row["generated_at"] is None or later:
            _, body = self.generate(conn, job.task_id, payload.task, inbox_id=job.id)
        else:
            body = self._stored_body(row)
        if row["arm"] == "holdout":
            return "done", "holdout: suggestion logged, not posted"
        if row["posted_inbox_id"] == job.id:
            return "done", f"already posted as comment {row['comment_id']}"
        return "done", self.post(conn, job, body, payload.user_id, row["post_attempts"])

    def generate(
        self, conn: psycopg.Connection, task_id: int, task: PyrusTask, *, inbox_id: int | None
    ) -> tuple[Suggestion, CommentBody]:
        """Build, format and store the suggestion for a task."""
        ticket = ticket_from_task(task)
        suggestion = self.suggester(conn).suggest(
            ticket.subject, ticket.description, customer_name=ticket.customer_name
        )
        body = format_comment(
            suggestion,
            category_name=self.category_names.get(suggestion.category_code or ""),
            draft_field_id=self.settings.pyrus_draft_field_id,
        )
        save_suggestion(conn, task_id, suggestion, body, inbox_id=inbox_id)
        record_category(conn, task_id, suggestion)
        return suggestion, body

    def _stored_body(self, row: dict[str, Any]) -> CommentBody:
        field_id = self.settings.pyrus_draft_field_id
        updates = (
            [{"id": field_id, "value": row["draft_reply"]}]
            if field_id is not None and row["draft_reply"]
            else []
        )
        return CommentBody(
            text=row["comment_text"] or "",
            formatted_text=row["comment_html"] or "",
            field_updates=updates,
        )

    def post(
        self,
        conn: psycopg.Connection,
        job: Job,
        body: CommentBody,
        bot_id: int | None,
        previous_attempts: int,
    ) -> str:
        """Post once: an interrupted earlier attempt is looked up before posting again."""
        comment_id = None
        if previous_attempts:  # a post may have reached Pyrus before a crash
            comment_id = self.poster.find_own_comment(
                job.task_id, job.access_token, bot_id, after_id=job.comment_id
            )
        started = time.perf_counter()
        if comment_id is None:
            conn.execute(
                "update assistant.suggestions set post_attempts = post_attempts + 1,"
                " updated_at = now() where task_id = %s",
                (job.task_id,),
            )
            try:
                comment_id = self.poster.post_comment(job.task_id, body, job.access_token)
            except KbError as exc:
                conn.execute(
                    "update assistant.suggestions set post_error = %s where task_id = %s",
                    (str(exc)[:2000], job.task_id),
                )
                raise
        post_ms = int((time.perf_counter() - started) * 1000)
        conn.execute(
            "update assistant.suggestions set posted_at = coalesce(posted_at, now()),"
            " comment_id = %s, posted_inbox_id = %s, post_ms = %s, post_error = null,"
            " updated_at = now() where task_id = %s",
            (comment_id, job.id, post_ms, job.task_id),
        )
        return f"posted as comment {comment_id}"


# --- replaying history (effect measurement) ------------------------------------------------


@dataclass(frozen=True)
class ReplaySummary:
    logged: int
    holdout: int


def replay_history(
    conn: psycopg.Connection,
    suggester: Suggester,
    *,
    holdout_share: float,
    since: datetime | None = None,
    until: datetime | None = None,
    form_ids: Iterable[int] | None = None,
    limit: int | None = None,
) -> ReplaySummary:
    """Log suggestions for historical tickets in `raw.pyrus_tasks`, never posting.

    The arm comes from the same `assign_arm` as live traffic and `decided_at` is the
    ticket's creation time, so a replay agrees with what the live bot would have
    decided. Tickets already in the log are left alone: re-running is a no-op.
    """
    forms = list(form_ids) if form_ids is not None else None
    rows = conn.execute(
        """
        select t.task_id, t.payload, (t.payload->>'create_date')::timestamptz as created_at
        from raw.pyrus_tasks as t
        where not t.is_deleted
          and (%(since)s::timestamptz is null
               or (t.payload->>'create_date')::timestamptz >= %(since)s)
          and (%(until)s::timestamptz is null
               or (t.payload->>'create_date')::timestamptz < %(until)s)
          and (%(forms)s::bigint[] is null or t.form_id = any(%(forms)s))
          and not exists (select 1 from assistant.suggestions s where s.task_id = t.task_id)
        order by t.task_id
        limit %(limit)s
        """,
        {"since": since, "until": until, "forms": forms, "limit": limit},
    ).fetchall()
    logged = holdout = 0
    for task_id, payload, created_at in rows:
        task = PyrusTask.model_validate({**payload, "id": task_id})
        row = decide_arm(
            conn, task_id, holdout_share, origin="replay", inbox_id=None, decided_at=created_at
        )
        ticket = ticket_from_task(task)
        suggestion = suggester.suggest(
            ticket.subject,
            ticket.description,
            customer_name=ticket.customer_name,
            exclude_document_ids=frozenset({f"pyrus:{task_id}"}),
        )
        save_suggestion(conn, task_id, suggestion, format_comment(suggestion))
        logged += 1
        holdout += row["arm"] == "holdout"
    logger.info("replayed %d historical ticket(s) (%d holdout)", logged, holdout)
    return ReplaySummary(logged=logged, holdout=holdout)


def category_names() -> dict[str, str]:
    """Russian category names for the comment, from the taxonomy seed (empty if missing)."""
    try:
        from assistant.taxonomy import load_taxonomy

        return {category.code: category.name_ru for category in load_taxonomy().categories}
    except (ImportError, KbError, OSError) as exc:
        logger.warning("category names unavailable: %s", exc)
        return {}


def build_pipeline(
    settings: AssistantSettings,
    *,
    suggester_factory: SuggesterFactory | None = None,
    poster: PyrusPoster | None = None,
) -> BotPipeline:
    """The production pipeline; tests pass their own suggester factory or poster."""
    if suggester_factory is None:
        from assistant.rag import open_suggester

        def suggester_factory(conn: psycopg.Connection) -> Suggester:
            return open_suggester(conn, settings)

    return BotPipeline(
        settings=settings,
        suggester_factory=suggester_factory,
        poster=poster or PyrusPoster(settings),
        category_names=category_names(),
    )


def drain_inbox(database_url: str, pipeline: BotPipeline) -> int:
    """Process every ready inbox job in this thread (demo, `kb worker --once`, tests)."""
    from assistant.inbox import InboxWorker

    settings = pipeline.settings
    worker = InboxWorker(
        database_url,
        pipeline.handle_job,
        claim_timeout_seconds=settings.bot_claim_timeout_seconds,
        max_attempts=settings.bot_max_attempts,
        backoff_seconds=settings.bot_retry_backoff_seconds,
    )
    try:
        return worker.run_pending()
    finally:
        worker.stop()


def wait_for_task(
    conn: psycopg.Connection, task_id: int, *, timeout_seconds: float = 30.0
) -> dict[str, Any] | None:
    """Wait until no inbox job of the task is pending; return its suggestion row (or None)."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        busy = conn.execute(
            "select count(*) from assistant.inbox where task_id = %s"
            " and status in ('pending', 'processing')",
            (task_id,),
        ).fetchone()
        if (busy and busy[0] == 0) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    cursor = conn.execute("select * from assistant.suggestions where task_id = %s", (task_id,))
    row = cursor.fetchone()
    names = [column.name for column in cursor.description or []]
    return dict(zip(names, row, strict=True)) if row else None
