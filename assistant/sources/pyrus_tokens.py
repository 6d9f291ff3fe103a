"""Pyrus access tokens, cached per credential in memory and optionally on disk.

Pyrus caps the number of live tokens per user and a new token evicts the oldest, so
every `/auth` call can log out another worker. Tokens are therefore shared: in memory
by all clients of a process, and through a 0600 file per credential (under the kb data
directory) by the processes of one machine — the daily flow, a backfill, the bot.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Token:
    access_token: str
    api_url: str


_MEMORY: dict[str, Token] = {}
_LOCK = threading.Lock()


def credential_key(auth_url: str, login: str, security_key: str) -> str:
    """A stable, non-reversible name for one credential."""
    digest = hashlib.sha256(f"{auth_url}\0{login}\0{security_key}".encode()).hexdigest()
    return digest[:32]


def forget_cached_tokens() -> None:
    """Drop the in-memory tokens (tests; a rotated key). Files stay until they fail."""
    with _LOCK:
        _MEMORY.clear()


class TokenCache:
    """Get-or-authenticate for one credential; `stale` replaces a token that got a 401."""

    def __init__(self, key: str, directory: Path | None = None) -> None:
        self.key = key
        self.path = directory / f"pyrus-token-{key}.json" if directory else None

    def _read_file(self) -> Token | None:
        if self.path is None or not self.path.exists():
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return Token(str(data["access_token"]), str(data["api_url"]))
        except (OSError, ValueError, KeyError, TypeError):
            logger.warning("ignoring unreadable token cache %s", self.path)
            return None

    def _write_file(self, token: Token) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(asdict(token), handle)
            temporary.replace(self.path)
        except OSError as exc:  # a cache that cannot be written only costs an extra /auth
            logger.warning("cannot write token cache %s: %s", self.path, exc)

    def get(self, authenticate: Callable[[], Token], *, stale: Token | None = None) -> Token:
        with _LOCK:
            current = _MEMORY.get(self.key)
            if current is None or current == stale:
                current = self._read_file()
            if current is not None and current != stale:
                _MEMORY[self.key] = current
                return current
            token = authenticate()
            _MEMORY[self.key] = token
            self._write_file(token)
            return token
