"""The shapes of Pyrus API v4 answers the extract relies on, and Pyrus' date format.

Validated at the boundary only for the keys the loader reads (`id`, dates); everything
else, unknown field types included, stays in the raw payload (docs/pyrus-api.md).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

logger = logging.getLogger(__name__)


def parse_pyrus_datetime(value: object) -> datetime | None:
    """`YYYY-MM-DDThh:mm:ssZ` (or any ISO 8601 with offset) as aware UTC; junk → None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        logger.debug("unparseable Pyrus date %r kept only in the payload", value)
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_pyrus_datetime(value: datetime) -> str:
    """The register's filter format: UTC, no fractions."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RegisterTask(BaseModel):
    """One register row: the loader needs only the id and the modification stamp."""

    model_config = ConfigDict(extra="allow")

    id: int
    last_modified_date: str | None = None

    @property
    def modified_at(self) -> datetime | None:
        return parse_pyrus_datetime(self.last_modified_date)


class RegisterPage(BaseModel):
    model_config = ConfigDict(extra="allow")

    tasks: list[RegisterTask] = []


class TaskRecord(BaseModel):
    """The keys of `GET /tasks/{id}` the loader reads; the full payload stays a dict."""

    model_config = ConfigDict(extra="allow")

    id: int
    form_id: int | None = None
    last_modified_date: str | None = None
    comments: list[dict[str, Any]] = []


class TaskEnvelope(BaseModel):
    model_config = ConfigDict(extra="allow")

    task: TaskRecord


class AuthResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    access_token: str
    api_url: str | None = None
