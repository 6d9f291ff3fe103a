"""Settings of the flows package: the assistant's settings plus the extract sources."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from assistant.settings import AssistantSettings, split_list_setting


class FlowSettings(AssistantSettings):
    """Everything the daily ETL reads from the environment (or `.env`)."""

    confluence_url: str | None = None
    confluence_token: SecretStr | None = Field(default=None, description="Data Center PAT")
    confluence_user: str | None = Field(default=None, description="Cloud user (email)")
    confluence_api_token: SecretStr | None = Field(default=None, description="Cloud API token")
    # NoDecode: pydantic-settings would otherwise try `SUP,KB` as JSON and fail before
    # the validator below sees it
    confluence_spaces: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # extract (flows/extract.py): overlaps, batches, guards, the optional SQL source
    pyrus_overlap_minutes: int = Field(default=10, ge=0, description="register re-read window")
    pyrus_batch_size: int = Field(default=100, ge=1, description="tasks per commit")
    pyrus_page_size: int = Field(default=1000, ge=1, le=20000, description="register item_count")
    pyrus_workers: int = Field(default=4, ge=1, le=32, description="threads for GET /tasks")
    pyrus_mass_delete_share: float = Field(default=0.2, ge=0.0, le=1.0)
    confluence_overlap_minutes: int = Field(default=120, ge=0)
    confluence_timezone: str = Field(
        default="UTC", description="IANA zone of the service account (CQL dates use it)"
    )
    confluence_mass_delete_share: float = Field(default=0.2, ge=0.0, le=1.0)
    confluence_mass_delete_min_pages: int = Field(default=2, ge=1)
    extract_max_attempts: int = Field(default=6, ge=1, description="HTTP attempts per request")
    kb_sql_source_url: SecretStr | None = Field(default=None, description="read-only source DB")
    kb_sql_source_dir: Path | None = Field(default=None, description="dir of *.sql queries")

    @field_validator("confluence_spaces", mode="before")
    @classmethod
    def _split_spaces(cls, value: object) -> object:
        """Accept `CONFLUENCE_SPACES=SUP,KB` as well as a JSON list."""
        return split_list_setting(value)
