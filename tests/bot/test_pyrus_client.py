# ruff: noqa: F811 - the emulator fixtures are imported from test_pipeline and used by name
"""The bot's Pyrus layer over the one client, against the Pyrus emulator.

What the bot shares with the extract (`assistant/sources/pyrus.py`): the token cache, so
a bot and an extract on one credential authenticate once between them (Pyrus caps live
tokens per user and a new one evicts the oldest). What stays the bot's own: a 429 goes
back to the inbox with a wait instead of being slept on, the comment POST is sent once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from assistant.bot.comment_format import HEADING, CommentBody
from assistant.bot.pyrus_client import PyrusPoster, PyrusRateLimited
from assistant.sources.pyrus import PyrusClient
from assistant.sources.pyrus_tokens import forget_cached_tokens
from sample_data.emulators.sandbox import Sandbox
from tests.bot.test_pipeline import (  # noqa: F401 - fixtures
    make_settings,
    new_task,
    sandbox,
)

BODY = CommentBody(text=f"{HEADING}: проверка", formatted_text=f"<p>{HEADING}</p>")


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> Iterator[None]:
    forget_cached_tokens()
    yield
    forget_cached_tokens()


def auth_calls(sandbox: Sandbox) -> int:
    return sandbox.pyrus.log.count("POST", urlsplit(sandbox.pyrus_auth_url).path)


def test_the_bot_and_the_extract_share_one_token(sandbox: Sandbox, tmp_path: Path) -> None:
    settings = make_settings(sandbox, kb_data_dir=tmp_path)
    before = auth_calls(sandbox)
    poster = PyrusPoster(settings, sleep=lambda _s: None)
    assert poster.post_comment(new_task(sandbox), BODY, token=None) is not None
    assert auth_calls(sandbox) == before + 1
    extract = PyrusClient(
        sandbox.pyrus_login,
        sandbox.pyrus_key,
        auth_url=sandbox.pyrus_auth_url,
        api_url=sandbox.pyrus_api_url,
        token_cache_dir=tmp_path / "tokens",
    )
    with extract:
        assert extract.forms()
    assert auth_calls(sandbox) == before + 1  # the extract reused the bot's token
    forget_cached_tokens()  # another process on the machine: only the token file is left
    assert PyrusPoster(settings).post_comment(new_task(sandbox), BODY, token=None)
    assert auth_calls(sandbox) == before + 1


def test_a_429_goes_back_to_the_inbox_without_a_sleep(sandbox: Sandbox) -> None:
    task_id = new_task(sandbox)
    slept: list[float] = []
    poster = PyrusPoster(make_settings(sandbox), sleep=slept.append)
    path = f"/v4/tasks/{task_id}/comments"
    sandbox.pyrus.faults.fail_next(1, status=429, path_prefix=path)
    with pytest.raises(PyrusRateLimited) as info:
        poster.post_comment(task_id, BODY, token=None)
    assert slept == []
    assert 0 <= info.value.delay_seconds <= poster.max_rate_wait
    assert sandbox.pyrus.log.count("POST", path) == 1
