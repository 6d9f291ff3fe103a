"""Benchmark: the wall times the README quotes — `kb demo` (first and second run), its
replay and tune stages, and `kb ask` — measured by running the real commands.

The README's figures are refreshed from this script's output instead of remembered.
Each command runs as a subprocess of this checkout's `.venv/bin/kb`; the demo's stage
seconds are read from its stage lines (whole when written to a pipe, flows/terminal.py).

    .venv/bin/python -m benchmarks.readme_figures                 # a fresh data dir
    .venv/bin/python -m benchmarks.readme_figures --data-dir .data --demo-runs 1
    .venv/bin/python -m benchmarks.readme_figures --data-dir .data --demo-runs 0  # kb ask

A fresh data dir (the default: a new temporary one, removed afterwards) measures what a
newcomer sees: the first demo builds everything, a second one shows the re-run. The
machine's load average is printed with the figures: on a shared machine they grow.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KB = str(Path(sys.executable).with_name("kb"))
STAGE_LINE = re.compile(r"^(ok|failed|skipped)\s+(\w+)\s+([\d.]+) s\b", re.MULTILINE)
SHOWN_STAGES = ("index", "replay", "tune")
ASK_TEXT = "Не можем загрузить справочник из Excel на 20 тысяч строк, выдаёт ошибку"


def _env(data_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    return {**env, "KB_DATA_DIR": str(data_dir.resolve())}


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Wall seconds and the output of one command; a failure stops the benchmark."""
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise SystemExit(f"{' '.join(command[1:])} failed ({done.returncode}): {' | '.join(tail)}")
    return seconds, done.stdout


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="KB_DATA_DIR to use (default: a new one)")
    parser.add_argument("--demo-runs", type=int, default=2, help="kb demo runs (0: none)")
    parser.add_argument("--ask-runs", type=int, default=5, help="kb ask runs after the demo")
    args = parser.parse_args()

    fresh = args.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="kb-figures-")) if fresh else args.data_dir
    env = _env(data_dir)
    print(f"data dir: {data_dir} ({'fresh' if fresh else 'existing'})")
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    try:
        for run in range(1, args.demo_runs + 1):
            seconds, output = timed([KB, "demo"], env)
            stages = {name: float(s) for _, name, s in STAGE_LINE.findall(output)}
            figures = ", ".join(f"{name} {stages.get(name, 0):.1f} s" for name in SHOWN_STAGES)
            print(f"kb demo run {run}: {minutes(seconds)} wall; {figures}")
        walls = [timed([KB, "ask", ASK_TEXT], env)[0] for _ in range(args.ask_runs)]
        if walls:
            print(
                f"kb ask ({len(walls)} runs): median {statistics.median(walls):.2f} s, "
                f"min {min(walls):.2f} s, max {max(walls):.2f} s wall"
            )
    finally:
        if fresh:
            subprocess.run([KB, "db", "stop"], env=env, capture_output=True, check=False)
            shutil.rmtree(data_dir, ignore_errors=True)
    print(f"load average after:  {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
