"""Fixtures of the fault-injection suite: the emulators, the bot, a faulty proxy.

The emulator sandbox and the bot app come from the bot's end-to-end tests
(tests/bot/test_pipeline.py); everything runs on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sample_data.emulators.sandbox import Sandbox
from tests.bot.faults.proxy import FaultProxy, start_proxy
from tests.bot.test_pipeline import sandbox, start_bot

__all__ = ["fault_proxy", "sandbox", "start_bot"]


@pytest.fixture
def fault_proxy(sandbox: Sandbox) -> Iterator[FaultProxy]:
    """A proxy in front of the Pyrus emulator; point `PYRUS_API_URL` at `proxy.url + "/v4/"`."""
    proxy = start_proxy(sandbox.pyrus_url)
    yield proxy
    proxy.stop()
