"""The entry point's view of the world: settings read once, the database URL, run options.

Every refresh stage is `run(runtime) -> summary`. The runtime reaches a stage's Prefect
flow one way only: `run` activates it (`with runtime.active():`) and the flow body reads
`current_runtime()`. Flow parameters stay what a user would type (`full`, dates), never a
URL or a settings object — those would be stored and shown in the Prefect UI. A flow
started on its own (a deployment, `prefect` CLI) finds no active runtime and builds one
from the environment.

`database_url()` starts the embedded server when `DATABASE_URL` is unset and applies
pending migrations once per runtime, so a whole refresh migrates once.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from assistant.config import load_settings
from assistant.db import prepare_process_environment, resolve_database_url
from assistant.migrate import migrate
from flows.settings import FlowSettings


@dataclass
class Runtime:
    """Settings, the resolved database URL and the options of this run.

    `full` re-reads sources from the beginning and rebuilds (`--full`); `since` moves the
    extract watermarks back to that date first; `progress` draws bars on the terminal;
    `on_stage` hears each finished stage (`flows.refresh.StageResult`; the CLI prints it).
    """

    settings: FlowSettings
    full: bool = False
    since: date | None = None
    progress: bool = False
    on_stage: Callable[[Any], None] | None = field(default=None, repr=False)
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

    def with_options(
        self,
        *,
        full: bool | None = None,
        since: date | None = None,
        progress: bool | None = None,
        on_stage: Callable[[Any], None] | None = None,
    ) -> Runtime:
        """The same settings and database (no second migration) with other run options."""
        return replace(
            self,
            full=self.full if full is None else full,
            since=self.since if since is None else since,
            progress=self.progress if progress is None else progress,
            on_stage=self.on_stage if on_stage is None else on_stage,
        )

    @contextlib.contextmanager
    def active(self) -> Iterator[Runtime]:
        """Make this the runtime `current_runtime()` returns inside the block."""
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)


_ACTIVE: contextvars.ContextVar[Runtime | None] = contextvars.ContextVar("kb_runtime", default=None)


def current_runtime() -> Runtime:
    """The runtime a stage's `run` activated, or one read from the environment."""
    active = _ACTIVE.get()
    return active if active is not None else Runtime.from_environment()
