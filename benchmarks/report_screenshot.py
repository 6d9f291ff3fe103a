"""Render the effect report and take a headless-Chromium screenshot of it.

A dev-machine check that the page a support lead opens reads well (Russian labels,
the verdict on top), not a test dependency. Needs Debian's `chromium`
(`apt-get install -y chromium`) and a database where `kb demo` (or a refresh with the
effect stage) has run; the database is the one kb uses (DATABASE_URL or embedded).

    .venv/bin/python -m benchmarks.report_screenshot                 # report.html + .png
    .venv/bin/python -m benchmarks.report_screenshot --out /tmp/r --height 4200

Prints where the files are, their sizes and the seconds each step took.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium_binary() -> str:
    """The installed Chromium, or a one-line hint how to get it."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("chromium not found: apt-get install -y chromium")


def screenshot(html_path: Path, png_path: Path, *, width: int, height: int) -> None:
    """One headless Chromium run with a throwaway profile."""
    with tempfile.TemporaryDirectory(prefix="kb-chromium-") as profile:
        command = [
            chromium_binary(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={png_path}",
            html_path.resolve().as_uri(),
        ]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if completed.returncode != 0 or not png_path.exists():
        tail = " ".join(completed.stderr.split()[-30:])
        raise SystemExit(f"chromium failed ({completed.returncode}): {tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("report"), help="path without suffix")
    parser.add_argument("--width", type=int, default=1100)
    parser.add_argument("--height", type=int, default=7000)  # the whole page
    args = parser.parse_args()

    from assistant.effect.report_data import report_html
    from flows.runtime import Runtime

    started = time.monotonic()
    page = report_html(Runtime.from_environment().database_url())
    html_path, png_path = args.out.with_suffix(".html"), args.out.with_suffix(".png")
    html_path.write_text(page, encoding="utf-8")
    rendered = time.monotonic()
    screenshot(html_path, png_path, width=args.width, height=args.height)
    done = time.monotonic()
    print(f"report:     {html_path} ({len(page) // 1024} KiB) in {rendered - started:.1f} s")
    print(
        f"screenshot: {png_path} ({png_path.stat().st_size // 1024} KiB) in {done - rendered:.1f} s"
    )


if __name__ == "__main__":
    main()
