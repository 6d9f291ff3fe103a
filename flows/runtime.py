"""The entry point's view of the world: settings read once and the database URL.

Commands that need the database call `database_url()`; it starts the embedded server
when `DATABASE_URL` is unset and applies pending migrations once per process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assistant.config import load_settings
from assistant.db import prepare_process_environment, resolve_database_url
from assistant.migrate import migrate
from flows.settings import FlowSettings


@dataclass
class Runtime:
    settings: FlowSettings
    _url: str | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls) -> Runtime:
        prepare_process_environment()
        return cls(settings=load_settings(FlowSettings))

    def database_url(self, *, run_migrations: bool = True) -> str:
        if self._url is None:
            configured = self.settings.database_url
            url = resolve_database_url(
                configured.get_secret_value() if configured else None, self.settings.kb_data_dir
            )
            if run_migrations:
                migrate(url)
            self._url = url
        return self._url
