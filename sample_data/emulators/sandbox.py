"""Start both emulators over one dataset and one clock, on 127.0.0.1.

`kb sandbox`, the demo and the integration tests use this: `Sandbox.env()` gives the
environment that points kb's settings (PYRUS_*, CONFLUENCE_*) at the emulators.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from assistant.servers import ServerHandle, run_in_thread
from sample_data.emulators.confluence import ConfluenceState, create_confluence_app
from sample_data.emulators.dataset import DEFAULT_DATASET_DIR, Clock, Dataset, load_dataset
from sample_data.emulators.faults import RateLimiter
from sample_data.emulators.pyrus import create_pyrus_app, make_pyrus_state
from sample_data.emulators.pyrus_state import PyrusState
from sample_data.emulators.webhook_sender import Delivery, send_task_event

logger = logging.getLogger(__name__)

DEFAULT_LOGIN = "bot@00000000-0000-4000-8000-00000000b07a"


@dataclass
class Sandbox:
    """Running emulators; stop them with `.stop()` or use as a context manager."""

    dataset: Dataset
    clock: Clock
    pyrus: PyrusState
    confluence: ConfluenceState
    pyrus_server: ServerHandle
    confluence_server: ServerHandle
    pyrus_login: str
    pyrus_key: str
    confluence_token: str
    bot_secret: str
    spaces: list[str] = field(default_factory=list)

    @property
    def pyrus_url(self) -> str:
        return self.pyrus_server.url

    @property
    def pyrus_auth_url(self) -> str:
        return f"{self.pyrus_server.url}/api/v4/auth"

    @property
    def pyrus_api_url(self) -> str:
        return f"{self.pyrus_server.url}/v4/"

    @property
    def confluence_url(self) -> str:
        return self.confluence_server.url

    def env(self) -> dict[str, str]:
        """Environment variables that point kb at this sandbox."""
        draft = self.dataset.metadata.get("field_ids", {}).get("draft_reply")
        return {
            **({"PYRUS_DRAFT_FIELD_ID": str(draft)} if draft else {}),
            "PYRUS_AUTH_URL": self.pyrus_auth_url,
            # the bot posts with the webhook's token and never calls auth, so it needs the
            # API URL up front (cloud Pyrus defaults to api.pyrus.com)
            "PYRUS_API_URL": self.pyrus_api_url,
            "PYRUS_LOGIN": self.pyrus_login,
            "PYRUS_SECURITY_KEY": self.pyrus_key,
            "PYRUS_FORM_IDS": str(self.dataset.form_id),
            "PYRUS_BOT_SECRET": self.bot_secret,
            "CONFLUENCE_URL": self.confluence_url,
            "CONFLUENCE_TOKEN": self.confluence_token,
            "CONFLUENCE_SPACES": ",".join(self.spaces),
        }

    def create_ticket(self, ticket: dict[str, Any]) -> dict[str, Any]:
        """Create a fresh ticket at the clock's time (a `new_tickets.jsonl`-style dict)."""
        return self.pyrus.create_task(ticket)

    def send_webhook(
        self, url: str, task_id: int, event: str = "comment", **kwargs: Any
    ) -> Delivery:
        """Send the bot webhook for a task as Pyrus would, with a fresh bot token."""
        token = self.pyrus.issue_token(self.pyrus_login)
        person = self.pyrus.tokens[token].person
        return send_task_event(
            url,
            self.pyrus.get_task(task_id),
            self.bot_secret,
            event,
            access_token=token,
            user_id=int(person["id"]),
            **kwargs,
        )

    def stop(self) -> None:
        for handle in (self.pyrus_server, self.confluence_server):
            handle.server.should_exit = True  # both wind down at once, then join
        self.pyrus_server.stop()
        self.confluence_server.stop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sandbox(
    dataset_dir: Path | str = DEFAULT_DATASET_DIR,
    *,
    pyrus_login: str | None = None,
    pyrus_key: str = "sandbox-security-key",
    confluence_token: str = "sandbox-pat",
    bot_secret: str = "sandbox-bot-secret",
    host: str = "127.0.0.1",
    port_pyrus: int = 0,
    port_confluence: int = 0,
    pyrus_rate_limit: int | None = 5000,
    confluence_rate_limit: int | None = None,
    rate_window_seconds: float = 600.0,
    archive_after: timedelta = timedelta(0),
    cloud_user: str | None = None,
    cloud_api_token: str | None = None,
) -> Sandbox:
    """Load the dataset, set the clock to `day1_cutoff` and serve both APIs.

    `pyrus_login` defaults to the dataset's bot member (`type == "bot"`).
    """
    dataset = load_dataset(dataset_dir)
    clock = Clock(dataset.day1_cutoff)
    if pyrus_login is None:  # log in as the dataset's bot, so its comments carry its id
        bots = [m for m in dataset.members.get("members", []) if m.get("type") == "bot"]
        pyrus_login = bots[0]["email"] if bots else DEFAULT_LOGIN
    pyrus = make_pyrus_state(
        dataset,
        clock,
        {pyrus_login: pyrus_key},
        rate_limit=pyrus_rate_limit,
        rate_window_seconds=rate_window_seconds,
        archive_after=archive_after,
    )
    confluence = ConfluenceState(
        dataset=dataset,
        clock=clock,
        token=confluence_token,
        cloud_user=cloud_user,
        cloud_api_token=cloud_api_token,
        rate_limiter=RateLimiter(confluence_rate_limit, rate_window_seconds),
    )
    pyrus_server = run_in_thread(create_pyrus_app(pyrus), host=host, port=port_pyrus)
    try:
        confluence_server = run_in_thread(
            create_confluence_app(confluence), host=host, port=port_confluence
        )
    except Exception:
        pyrus_server.stop()
        raise
    spaces = dataset.metadata.get("confluence_spaces") or sorted(
        {p["space_key"] for p in dataset.pages}
    )
    logger.info("sandbox: pyrus %s, confluence %s", pyrus_server.url, confluence_server.url)
    return Sandbox(
        dataset=dataset,
        clock=clock,
        pyrus=pyrus,
        confluence=confluence,
        pyrus_server=pyrus_server,
        confluence_server=confluence_server,
        pyrus_login=pyrus_login,
        pyrus_key=pyrus_key,
        confluence_token=confluence_token,
        bot_secret=bot_secret,
        spaces=list(spaces),
    )
