"""Typed clients for the extract sources (Pyrus, Confluence, a SQL database).

They know HTTP/SQL, paging and auth, and nothing of Prefect: the flows in
`flows/extract.py` sequence them and `flows/landing.py` writes what they return.
"""

from flows.sources.http import (
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
