"""One typed client per external system (Pyrus, Confluence, a SQL database) and their syncs.

The clients know HTTP/SQL, paging, auth and the one retry policy (`http.py`), and nothing
of Prefect; the extract (`sync/`, sequenced by `flows/extract.py`) and the bot
(`assistant/bot/pyrus_client.py`) both build on them. `landing.py` writes what the syncs
fetch into the `raw` schema.
"""

from assistant.sources.http import (
    HttpStatusError,
    RequestStats,
    RetryableError,
    RetryPolicy,
    SourceError,
    TruncatedResponse,
)

__all__ = [
    "HttpStatusError",
    "RequestStats",
    "RetryPolicy",
    "RetryableError",
    "SourceError",
    "TruncatedResponse",
]
