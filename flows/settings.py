"""Settings of the flows package: the assistant's settings plus the extract sources."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from assistant.settings import AssistantSettings


class FlowSettings(AssistantSettings):
    """Everything the daily ETL reads from the environment (or `.env`)."""

    confluence_url: str | None = None
    confluence_token: SecretStr | None = Field(default=None, description="Data Center PAT")
    confluence_user: str | None = Field(default=None, description="Cloud user (email)")
    confluence_api_token: SecretStr | None = Field(default=None, description="Cloud API token")
    confluence_spaces: list[str] = Field(default_factory=list)

    @field_validator("confluence_spaces", mode="before")
    @classmethod
    def _split_spaces(cls, value: object) -> object:
        """Accept `CONFLUENCE_SPACES=SUP,KB` as well as a JSON list."""
        if isinstance(value, str) and not value.strip().startswith("["):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
