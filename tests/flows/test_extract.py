"""The extract syncs against the real HTTP emulators (sample_data/emulators) and Postgres.

Mini dataset: day 1 shows tasks 1, 2, 3, 5, 6 and pages 65538, 884736, 884802, 884999 of
SUP/KB; by day 2 task 4 is new, tasks 2 and 5 changed, page 884736 has a new version,
885100 is new and 884802 is deleted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from assistant.db import connect
from assistant.sources.confluence import ConfluenceClient
from assistant.sources.http import RetryPolicy
from assistant.sources.pyrus import PyrusClient
from assistant.sources.pyrus_tokens import forget_cached_tokens
from assistant.sources.sync import MassDeletionError
from assistant.sources.sync.confluence import ConfluenceSync, ConfluenceSyncOptions
from assistant.sources.sync.pyrus import PyrusSync, PyrusSyncOptions
from assistant.steps import direct_step
from sample_data.emulators.sandbox import Sandbox, start_sandbox

pytestmark = pytest.mark.db

MINI = Path(__file__).parents[1] / "sample_data" / "fixtures" / "mini_dataset"
DAY1_TASKS = {201500001, 201500002, 201500003, 201500005, 201500006}
FIXTURES = Path(__file__).parents[1] / "sources" / "fixtures" / "confluence"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    forget_cached_tokens()
    with start_sandbox(MINI) as running:
        yield running


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with connect(database_url, autocommit=True) as connection:
        connection.execute(
            "truncate raw.pyrus_tasks, raw.pyrus_task_versions, raw.confluence_pages, "
            "raw.confluence_page_versions, raw.sync_state, raw.extract_runs, "
            "raw.extract_errors, raw.pyrus_forms"
        )
        yield connection


def pyrus_run(
    sandbox: Sandbox,
    conn: psycopg.Connection,
    *,
    step: Callable[..., Any] = direct_step,
    sleep: Callable[[float], None] = lambda seconds: None,
    **options: Any,
) -> dict[str, Any]:
    client = PyrusClient(
        sandbox.pyrus_login, sandbox.pyrus_key, auth_url=sandbox.pyrus_auth_url,
        policy=RetryPolicy(max_attempts=5, sleep=sleep), timeout=options.pop("timeout", 30.0),
    )  # fmt: skip
    with client:
        opts = PyrusSyncOptions(form_ids=[sandbox.dataset.form_id], **options)
        return PyrusSync(client, conn, opts, step=step).run()


def confluence_run(sandbox: Sandbox, conn: psycopg.Connection, **options: Any) -> dict[str, Any]:
    client = ConfluenceClient(
        sandbox.confluence_url, pat=sandbox.confluence_token, timezone="Europe/Moscow",
        policy=RetryPolicy(max_attempts=5, sleep=lambda seconds: None),
    )  # fmt: skip
    with client:
        return ConfluenceSync(client, conn, ConfluenceSyncOptions(sandbox.spaces, **options)).run()


def task_gets(sandbox: Sandbox) -> int:
    return sandbox.pyrus.log.count("GET", "/v4/tasks/")


def stored_tasks(conn: psycopg.Connection) -> set[int]:
    return {row[0] for row in conn.execute("select task_id from raw.pyrus_tasks").fetchall()}


def test_full_load_rerun_and_next_day(sandbox: Sandbox, conn: psycopg.Connection) -> None:
    first = pyrus_run(sandbox, conn)
    pages = confluence_run(sandbox, conn)
    assert (first["new"], first["changed"], first["errors"]) == (5, 0, 0)
    assert stored_tasks(conn) == DAY1_TASKS
    assert task_gets(sandbox) == 5
    assert (pages["new"], pages["tombstoned"]) == (4, 0)
    comments = conn.execute(
        "select jsonb_array_length(payload -> 'comments') from raw.pyrus_tasks "
        "where task_id = 201500002"
    ).fetchone()
    assert comments == (2,)

    # an immediate rerun: register calls only, nothing written
    sandbox.pyrus.log.clear()
    again = pyrus_run(sandbox, conn)
    pages_again = confluence_run(sandbox, conn)
    assert task_gets(sandbox) == 0
    assert again["requests_by_kind"].get("task", 0) == 0
    assert (again["new"], again["changed"]) == (0, 0)
    assert (pages_again["new"], pages_again["changed"], pages_again["tombstoned"]) == (0, 0, 0)

    # one day later: exactly the changed tickets and pages, and the deleted page
    sandbox.clock.advance(days=1)
    sandbox.pyrus.log.clear()
    day2 = pyrus_run(sandbox, conn)
    pages2 = confluence_run(sandbox, conn)
    fetched = {
        int(e.path.rsplit("/", 1)[1]) for e in sandbox.pyrus.log.entries if "/tasks/" in e.path
    }
    assert fetched == {201500002, 201500004, 201500005}
    assert (day2["new"], day2["changed"]) == (1, 2)
    versions = dict(
        conn.execute("select task_id, count(*) from raw.pyrus_task_versions group by 1").fetchall()
    )
    assert versions == {
        t: 2 if t in (201500002, 201500005) else 1 for t in DAY1_TASKS | {201500004}
    }
    assert (pages2["new"], pages2["changed"], pages2["tombstoned"]) == (1, 1, 1)
    deleted = conn.execute(
        "select page_id from raw.confluence_pages where is_deleted and deleted_at is not null"
    ).fetchall()
    assert deleted == [("884802",)]
    runs = conn.execute("select status, count(*) from raw.extract_runs group by 1").fetchall()
    assert runs == [("succeeded", 6)]


def test_faults_5xx_truncation_timeouts_and_token_expiry(
    sandbox: Sandbox, conn: psycopg.Connection
) -> None:
    faults = sandbox.pyrus.faults
    faults.fail_next(1, status=503, path_prefix="/v4/forms")  # GET /forms
    faults.truncate_next(1, path_prefix="/v4/forms/")  # the register page
    faults.fail_next(2, status=500, path_prefix="/v4/tasks")
    faults.delay_next(1, seconds=1.5, path_prefix="/v4/tasks")  # > the 0.5 s client timeout

    def expire_before_gets(name: str, fn: Callable[..., Any], *args: Any) -> Any:
        if name == "pyrus-get-tasks":
            sandbox.pyrus.expire_all_tokens()  # the token dies mid-run
        return fn(*args)

    result = pyrus_run(sandbox, conn, step=expire_before_gets, timeout=0.5, workers=1)
    assert stored_tasks(conn) == DAY1_TASKS
    assert result["retries"] >= 5
    assert result["requests_by_kind"]["auth"] == 2  # exactly one re-auth
    assert faults.pending() == 0
    assert sandbox.pyrus.log.count("POST", "/api/v4/auth") == 2


def test_429_storm_is_waited_out(sandbox: Sandbox, conn: psycopg.Connection) -> None:
    sandbox.pyrus.faults.fail_next(4, status=429, path_prefix="/v4/tasks")
    waits: list[float] = []
    result = pyrus_run(sandbox, conn, sleep=waits.append)
    assert result["429s"] == 4
    assert stored_tasks(conn) == DAY1_TASKS
    assert len(waits) >= 4


def test_real_rate_limit_window(conn: psycopg.Connection) -> None:
    forget_cached_tokens()
    with start_sandbox(MINI, pyrus_rate_limit=3, rate_window_seconds=1.0) as limited:
        result = pyrus_run(limited, conn, sleep=__import__("time").sleep)
        assert stored_tasks(conn) == DAY1_TASKS
        assert result["requests"] == limited.pyrus.log.count()
        # every 429 the emulator sent was retried, never surfaced
        assert result["429s"] == sum(1 for e in limited.pyrus.log.entries if e.status == 429)


def test_task_deleted_between_register_and_get(sandbox: Sandbox, conn: psycopg.Connection) -> None:
    def delete_after_register(name: str, fn: Callable[..., Any], *args: Any) -> Any:
        if name == "pyrus-get-tasks":
            sandbox.pyrus.delete_task(201500003)
        return fn(*args)

    result = pyrus_run(sandbox, conn, step=delete_after_register)
    assert result["errors"] == 1
    assert stored_tasks(conn) == DAY1_TASKS - {201500003}
    errors = conn.execute("select source, object_id, error from raw.extract_errors").fetchall()
    assert len(errors) == 1
    assert errors[0][:2] == ("pyrus", "201500003")
    assert "404" in errors[0][2]
    assert conn.execute("select status from raw.extract_runs").fetchall() == [("succeeded",)]


def test_crash_after_a_committed_batch_rerun_loads_exactly_the_rest(
    sandbox: Sandbox, conn: psycopg.Connection
) -> None:
    landed: list[int] = []

    def crash_on_second_load(name: str, fn: Callable[..., Any], *args: Any) -> Any:
        if name == "land-pyrus-tasks":
            if landed:
                raise RuntimeError("simulated crash in the loader")
            landed.append(len(args[0].payloads))
        return fn(*args)

    with pytest.raises(RuntimeError, match="simulated crash"):
        pyrus_run(sandbox, conn, step=crash_on_second_load, batch_size=2)
    assert len(stored_tasks(conn)) == 2
    assert conn.execute("select count(*) from raw.sync_state").fetchone() == (0,)
    assert conn.execute("select status from raw.extract_runs").fetchall() == [("failed",)]

    sandbox.pyrus.log.clear()
    rerun = pyrus_run(sandbox, conn, batch_size=2)
    assert task_gets(sandbox) == 3
    assert (rerun["new"], rerun["changed"], rerun["unchanged"]) == (3, 0, 2)
    assert stored_tasks(conn) == DAY1_TASKS
    assert conn.execute("select count(*) from raw.pyrus_task_versions").fetchone() == (5,)


def test_mass_deletion_guard_tombstones_nothing(sandbox: Sandbox, conn: psycopg.Connection) -> None:
    confluence_run(sandbox, conn)
    watermark = conn.execute("select watermark from raw.sync_state").fetchone()
    for page in sandbox.dataset.pages:
        if page["id"] in {"884736", "884999", "65538"}:
            page["deleted_at"] = "2026-11-19T00:00:00Z"
    with pytest.raises(MassDeletionError, match="3 of 4 stored Confluence pages"):
        confluence_run(sandbox, conn)
    assert conn.execute(
        "select count(*) from raw.confluence_pages where is_deleted"
    ).fetchone() == (0,)
    assert conn.execute("select watermark from raw.sync_state").fetchone() == watermark
    statuses = conn.execute("select status from raw.extract_runs order by started_at").fetchall()
    assert statuses == [("succeeded",), ("failed",)]
    # an operator who confirms the deletions raises the share for one run
    assert confluence_run(sandbox, conn, mass_delete_share=1.0)["tombstoned"] == 3


def test_macro_heavy_page_lands_verbatim(sandbox: Sandbox, conn: psycopg.Connection) -> None:
    sample = json.loads((FIXTURES / "dc-content-search-page1.json").read_text(encoding="utf-8"))
    storage = sample["results"][1]["body"]["storage"]["value"]
    sandbox.dataset.pages.append(
        {"id": "990001", "space_key": "SUP", "space_name": "Поддержка", "ancestors": [],
         "labels": [], "status": "current", "deleted_at": None,
         "versions": [{"number": 1, "when": "2026-11-19T10:00:00.000+03:00",
                       "by": {"displayName": "Ирина Петрова"}, "title": "Ошибка E42",
                       "storage": storage}]}
    )  # fmt: skip
    assert confluence_run(sandbox, conn)["new"] == 5
    stored = conn.execute(
        "select payload -> 'body' -> 'storage' ->> 'value' from raw.confluence_pages "
        "where page_id = '990001'"
    ).fetchone()
    assert stored == (storage,)
    assert "<![CDATA[" in storage
    assert storage.count("ac:structured-macro") >= 6


def test_malformed_dates_and_unknown_fields_land_and_do_not_refetch(
    conn: psycopg.Connection,
) -> None:
    import httpx

    forget_cached_tokens()
    weird = {
        "id": 42, "form_id": 321456, "text": "Странная задача",
        "last_modified_date": "2026-02-30T25:61:00Z", "create_date": "not a date",
        "fields": [{"id": 99, "type": "hologram", "name": "Новое поле", "value": {"x": [1]}}],
        "comments": [{"id": 1, "create_date": "вчера", "text": "ок"}],
    }  # fmt: skip
    gets: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/auth"):
            return httpx.Response(200, json={"access_token": "t", "api_url": "http://p.test/v4/"})
        if path.endswith("/forms"):
            return httpx.Response(200, json={"forms": [{"id": 321456, "name": "Обращения"}]})
        if path.endswith("/register"):
            register = {k: v for k, v in weird.items() if k != "comments"}
            return httpx.Response(200, json={"tasks": [register]})
        gets.append(path)
        return httpx.Response(200, json={"task": weird})

    def run() -> dict[str, Any]:
        client = PyrusClient("a", "b", auth_url="http://p.test/auth",
                             transport=httpx.MockTransport(handler))  # fmt: skip
        return PyrusSync(client, conn, PyrusSyncOptions()).run()

    assert run()["new"] == 1
    row = conn.execute(
        "select last_modified_at, payload -> 'fields' -> 0 ->> 'type' from raw.pyrus_tasks"
    ).fetchone()
    assert row == (None, "hologram")
    assert run()["unchanged"] == 1
    assert gets == ["/v4/tasks/42"]


@pytest.mark.prefect
@pytest.mark.slow
def test_stage_run_runs_every_source_and_names_the_failed_one(
    sandbox: Sandbox, conn: psycopg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.artifacts import Artifact

    from flows.extract import ExtractFailed, run
    from flows.runtime import Runtime

    for name, value in {**sandbox.env(), "DATABASE_URL": database_url}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CONFLUENCE_TIMEZONE", "Europe/Moscow")
    summary = run(Runtime.from_environment().with_options(full=True))
    assert set(summary) == {"pyrus", "confluence"}
    assert summary["pyrus"]["new"] == 5
    assert summary["confluence"]["new"] == 4
    artifact = Artifact.get("extract-pyrus-summary")
    assert artifact is not None
    assert {"metric": "new", "value": "5"} in json.loads(artifact.data)  # type: ignore[arg-type]

    monkeypatch.setenv("CONFLUENCE_TOKEN", "wrong-token")
    sandbox.clock.advance(days=1)
    with pytest.raises(ExtractFailed, match=r"extract failed for confluence .*succeeded: pyrus"):
        run(Runtime.from_environment())
    assert stored_tasks(conn) == DAY1_TASKS | {201500004}


def test_stage_run_without_sources_says_what_to_set() -> None:
    from assistant.errors import ConfigError
    from flows.extract import run
    from flows.runtime import Runtime
    from flows.settings import FlowSettings

    settings = FlowSettings(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="PYRUS_LOGIN, CONFLUENCE_URL or KB_SQL_SOURCE_URL"):
        run(Runtime(settings=settings))


def test_prefect_retries_only_transient_failures() -> None:
    from assistant.sources.http import HttpStatusError, TruncatedResponse
    from flows.extract import TRANSIENT
    from flows.steps import retry_condition

    _transient = retry_condition(TRANSIENT)

    class FailedState:
        def __init__(self, error: Exception) -> None:
            self.error = error

        def result(self, raise_on_failure: bool = True) -> Exception:
            return self.error

    assert _transient(None, None, FailedState(TruncatedResponse("cut")))
    # a landing batch is one transaction and idempotent: a lost connection is retried too
    assert _transient(None, None, FailedState(psycopg.OperationalError("server closed")))
    assert not _transient(None, None, FailedState(HttpStatusError("403", status=403)))
    assert not _transient(None, None, FailedState(MassDeletionError("too many")))


def test_full_run_tombstones_tasks_pyrus_no_longer_lists(
    sandbox: Sandbox, conn: psycopg.Connection
) -> None:
    pyrus_run(sandbox, conn)
    del sandbox.dataset.tasks[201500006]
    assert pyrus_run(sandbox, conn)["tombstoned"] == 0  # incremental runs never sweep
    full = pyrus_run(sandbox, conn, full=True)
    assert (full["tombstoned"], full["new"], full["changed"]) == (1, 0, 0)
    deleted = conn.execute("select task_id from raw.pyrus_tasks where is_deleted").fetchall()
    assert deleted == [(201500006,)]

    for task_id in (201500001, 201500002):
        del sandbox.dataset.tasks[task_id]
    with pytest.raises(MassDeletionError, match="2 of 4 stored Pyrus tasks of form 321456"):
        pyrus_run(sandbox, conn, full=True)
    assert conn.execute("select count(*) from raw.pyrus_tasks where is_deleted").fetchone() == (1,)
