"""Loading settings with a one-line error instead of a pydantic traceback."""

from __future__ import annotations

from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from assistant.errors import ConfigError

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load_settings(settings_class: type[SettingsT], **overrides: object) -> SettingsT:
    """Build a settings object; an invalid value raises `ConfigError` naming the variable."""
    try:
        return settings_class(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        variable = "_".join(str(part) for part in first["loc"] if isinstance(part, str)).upper()
        raise ConfigError(
            f"invalid setting {variable or '?'}: {first['msg']} — fix it in the environment or .env"
        ) from exc
