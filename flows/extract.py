"""Prefect flows of the extract stage: `extract-pyrus`, `extract-confluence`, `extract-sql`.

Each flow builds its client from settings, hands the sequencing to `assistant.sources.sync.*` with a
step hook that turns every network/DB boundary into a Prefect task (retried only on
transient errors), ends with a table artifact of counts and returns the summary dict.
`run` is the stage entry (`kb refresh --only extract`): it runs every configured source,
keeps going when one fails and raises at the end naming the failed ones.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from assistant.db import connect, prepare_process_environment
from assistant.errors import ConfigError, KbError
from assistant.sources.confluence import ConfluenceClient
from assistant.sources.http import RequestStats, RetryPolicy
from assistant.sources.pyrus import DEFAULT_AUTH_URL, PyrusClient
from assistant.sources.sync.confluence import ConfluenceSync, ConfluenceSyncOptions
from assistant.sources.sync.pyrus import PyrusSync, PyrusSyncOptions
from assistant.sources.sync.sql import SqlSync, SqlSyncOptions
from flows.artifacts import one_line, publish_summary
from flows.progress import progress_bar
from flows.runtime import Runtime, current_runtime
from flows.settings import FlowSettings
from flows.steps import TRANSIENT, prefect_steps

# Prefect reads its settings (the ephemeral server's startup timeout among them) when
# imported; `kb refresh` imports this module before it builds the runtime.
prepare_process_environment()

from prefect import flow, get_run_logger  # noqa: E402

SUMMARY_METRICS = (
    "new", "changed", "unchanged", "tombstoned", "errors", "requests", "429s", "retries", "seconds",
)  # fmt: skip


class ExtractFailed(KbError):
    """One or more extract sources failed (the others still ran, later stages still run)."""


# every network/DB boundary: a Prefect task retried only when the failure can heal (the
# stages' one rule, flows/steps.py), with longer waits: a source's 429/5xx/timeouts
# outlasted its in-client retries, and the rate-limit window may need most of a minute
prefect_step = prefect_steps(transient=TRANSIENT, retries=2, delays=[5, 30])


def _policy(settings: FlowSettings) -> RetryPolicy:
    return RetryPolicy(max_attempts=settings.extract_max_attempts)


def _publish(key: str, summary: dict[str, Any]) -> dict[str, Any]:
    publish_summary(key, summary, f"{summary['source']} extract run", SUMMARY_METRICS)
    get_run_logger().info("extract %s: %s", summary["source"], one_line(summary))
    return summary


def pyrus_client(settings: FlowSettings, stats: RequestStats | None = None) -> PyrusClient:
    if not settings.pyrus_login or not settings.pyrus_security_key:
        raise ConfigError("Pyrus extract needs PYRUS_LOGIN and PYRUS_SECURITY_KEY")
    return PyrusClient(
        settings.pyrus_login,
        settings.pyrus_security_key.get_secret_value(),
        auth_url=settings.pyrus_auth_url or DEFAULT_AUTH_URL,
        api_url=settings.pyrus_api_url,
        policy=_policy(settings),
        stats=stats,
        token_cache_dir=settings.kb_data_dir / "tokens",
    )


def confluence_client(settings: FlowSettings) -> ConfluenceClient:
    if not settings.confluence_url:
        raise ConfigError("Confluence extract needs CONFLUENCE_URL")
    pat, api_token = settings.confluence_token, settings.confluence_api_token
    try:
        return ConfluenceClient(
            settings.confluence_url,
            pat=pat.get_secret_value() if pat else None,
            user=settings.confluence_user,
            api_token=api_token.get_secret_value() if api_token else None,
            timezone=settings.confluence_timezone,
            policy=_policy(settings),
        )
    except (ValueError, LookupError) as exc:
        raise ConfigError(f"Confluence settings: {exc}") from exc


@flow(name="extract-pyrus")
def extract_pyrus(full: bool = False) -> dict[str, Any]:
    """Pyrus forms and tasks (with comments) into raw.pyrus_*."""
    runtime = current_runtime()
    settings = runtime.settings
    options = PyrusSyncOptions(
        form_ids=list(settings.pyrus_form_ids),
        full=full,
        overlap=timedelta(minutes=settings.pyrus_overlap_minutes),
        batch_size=settings.pyrus_batch_size,
        page_size=settings.pyrus_page_size,
        workers=settings.pyrus_workers,
        mass_delete_share=settings.pyrus_mass_delete_share,
    )
    with (
        pyrus_client(settings) as client,
        connect(runtime.database_url(), autocommit=True) as conn,
        progress_bar(runtime.progress, "extract pyrus", "records") as progress,
    ):
        sync = PyrusSync(client, conn, options, step=prefect_step, progress=progress)
        return _publish("extract-pyrus-summary", sync.run())


@flow(name="extract-confluence")
def extract_confluence(full: bool = False) -> dict[str, Any]:
    """Confluence pages of CONFLUENCE_SPACES into raw.confluence_pages, with tombstones."""
    runtime = current_runtime()
    settings = runtime.settings
    options = ConfluenceSyncOptions(
        spaces=list(settings.confluence_spaces),
        full=full,
        overlap=timedelta(minutes=settings.confluence_overlap_minutes),
        mass_delete_share=settings.confluence_mass_delete_share,
        mass_delete_min_pages=settings.confluence_mass_delete_min_pages,
    )
    with (
        confluence_client(settings) as client,
        connect(runtime.database_url(), autocommit=True) as conn,
        progress_bar(runtime.progress, "extract confluence", "records") as progress,
    ):
        sync = ConfluenceSync(client, conn, options, step=prefect_step, progress=progress)
        return _publish("extract-confluence-summary", sync.run())


@flow(name="extract-sql")
def extract_sql(full: bool = False) -> dict[str, Any]:
    """Rows of the operator's SQL queries into raw.sql_rows."""
    runtime = current_runtime()
    settings = runtime.settings
    if not settings.kb_sql_source_url or not settings.kb_sql_source_dir:
        raise ConfigError("the SQL extract needs KB_SQL_SOURCE_URL and KB_SQL_SOURCE_DIR")
    options = SqlSyncOptions(
        source_url=settings.kb_sql_source_url.get_secret_value(),
        query_dir=settings.kb_sql_source_dir,
        full=full,
    )
    with (
        connect(runtime.database_url(), autocommit=True) as conn,
        progress_bar(runtime.progress, "extract sql", "records") as progress,
    ):
        sync = SqlSync(conn, options, step=prefect_step, progress=progress)
        return _publish("extract-sql-summary", sync.run())


def configured_sources(settings: FlowSettings) -> dict[str, Callable[..., dict[str, Any]]]:
    """The flows whose settings are present, in run order."""
    sources: dict[str, Callable[..., dict[str, Any]]] = {}
    if settings.pyrus_login:
        sources["pyrus"] = extract_pyrus
    if settings.confluence_url:
        sources["confluence"] = extract_confluence
    if settings.kb_sql_source_url:
        sources["sql"] = extract_sql
    return sources


def check(runtime: Runtime) -> None:
    """The stage's prerequisite, checked before Prefect starts: at least one source."""
    if not configured_sources(runtime.settings):
        raise ConfigError(
            "no extract source configured: set PYRUS_LOGIN, CONFLUENCE_URL or KB_SQL_SOURCE_URL"
        )


def run(runtime: Runtime) -> dict[str, Any]:
    """`kb refresh --only extract [--full]`: every configured source, failures at the end."""
    check(runtime)
    sources = configured_sources(runtime.settings)
    results: dict[str, Any] = {}
    failures: dict[str, str] = {}
    with runtime.active():
        for name, extract in sources.items():
            try:
                results[name] = extract(full=runtime.full)
            except Exception as exc:  # one failing source must not stop the others
                failures[name] = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    if failures:
        done = ", ".join(results) or "none"
        detail = "; ".join(f"{name}: {error}" for name, error in failures.items())
        raise ExtractFailed(
            f"extract failed for {', '.join(failures)} ({detail}); succeeded: {done}"
        )
    return results
