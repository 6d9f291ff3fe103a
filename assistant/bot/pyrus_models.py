"""The Pyrus webhook payload and the ticket text a suggestion is built from.

Kept apart from `pipeline.py` so the boundary types (pydantic models validated at the
webhook, and the subject/description/customer-name extraction) can be read and reused
without the HTTP client or the suggestion-log SQL. Pure: no I/O here. `safe_ticket` is
what the pipeline hands the suggester (bounded, personal data masked).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from assistant.redact import greeting_name, mask_person

DESCRIPTION_MAX_CHARS = 8000
"""The description is cut in `ticket_from_task`; `safe_ticket` bounds the subject and the name."""

# --- the webhook payload (pydantic at the boundary) ----------------------------------


PyrusId = Annotated[StrictInt, Field(gt=0, le=2**63 - 1)]
"""A Pyrus id: a positive integer Postgres can store (`bigint`), given as a JSON number.

Strict: `true`, `"5"` and `5.0` are refused (pydantic would turn them into 1, 5, 5), as
are 0 and negative numbers (no Pyrus object has one). A refused id is a payload error
(400 and a dead letter), never a post to the wrong task.
"""


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class PyrusPerson(_Open):
    id: PyrusId | None = None
    first_name: str | None = None
    last_name: str | None = None
    type: str | None = None


class PyrusComment(_Open):
    id: PyrusId
    text: str | None = None
    create_date: str | None = None
    author: PyrusPerson | None = None
    channel: dict[str, Any] | None = None


class PyrusTask(_Open):
    id: PyrusId
    form_id: PyrusId | None = None
    text: str | None = None
    subject: str | None = None
    create_date: str | None = None
    close_date: str | None = None
    author: PyrusPerson | None = None
    fields: list[dict[str, Any]] = []
    comments: list[PyrusComment] = []


class WebhookPayload(_Open):
    """What Pyrus POSTs to the bot (docs/pyrus-api.md §7)."""

    event: str = "comment"
    access_token: str | None = None
    task_id: PyrusId | None = None
    user_id: PyrusId | None = None
    bot_settings: str | None = None
    task: PyrusTask


@dataclass(frozen=True)
class TicketText:
    """The parts of a task the suggestion is built from."""

    subject: str
    description: str
    customer_name: str | None
    sender_name: str | None = None  # the whole display name (for masking, never for greeting)
    sender_contacts: tuple[str, ...] = ()  # the sender's e-mail/phone from `channel.from`


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
    name = full = None
    contacts: list[str] = []
    if first is not None and isinstance(first.channel, dict):
        sender = first.channel.get("from")
        sender = sender if isinstance(sender, dict) else {}
        full = str(sender["name"]).strip() if sender.get("name") else None
        name = full.split()[0] if full else None
        contacts = [str(sender[key]) for key in ("email", "phone") if sender.get(key)]
        if first.channel.get("phone"):
            contacts.append(str(first.channel["phone"]))
    if name is None and task.author and task.author.type in (None, "user"):
        name = (task.author.first_name or "").strip() or None
        full = " ".join(
            part.strip() for part in (task.author.first_name, task.author.last_name) if part
        )
    return TicketText(
        subject=subject,
        description=description[:DESCRIPTION_MAX_CHARS],
        customer_name=name,
        sender_name=full or None,
        sender_contacts=tuple(contacts),
    )


SUBJECT_MAX_CHARS = 500
"""A subject is a line; the rest of a 100k-character "subject" is noise or an attack."""


def safe_ticket(ticket: TicketText) -> TicketText:
    """The ticket as the suggester may see it: bounded, personal data masked.

    Every text field that reaches the LLM, the suggestion log and the draft passes here:
    the subject is cut to `SUBJECT_MAX_CHARS` (the description is already cut in
    `ticket_from_task`), the sender's name, e-mail and phone plus the document patterns of
    `assistant.redact` are masked, and the name to greet is a plausible first name or None.
    Masking runs before the final cut so that a cut never splits a number into an
    unmasked half; a bounded prefix keeps the regex work bounded too.
    """
    name = ticket.sender_name or ticket.customer_name

    def clean(text: str, limit: int) -> str:
        masked = mask_person(text[: limit * 2], name=name, identifiers=ticket.sender_contacts)
        return masked[:limit]

    return TicketText(
        subject=clean(ticket.subject, SUBJECT_MAX_CHARS),
        description=clean(ticket.description, len(ticket.description) or 1),
        customer_name=greeting_name(name),
    )
