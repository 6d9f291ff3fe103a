"""JSON Lines input for the evaluation commands: one object per line, errors name the line.

Evaluation files are written by hand or exported from other tools, so a bad line must
stop the run with `path:line: what is wrong` rather than be skipped; each evaluator
passes its own error class (the CLI prints `KbError`s as one line).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assistant.errors import KbError


def json_objects(path: Path, error: type[KbError]) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of `path`; raises `error` otherwise."""
    if not path.is_file():
        raise error(f"{path} does not exist")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror}") from exc
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{path}:{number}: not JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise error(f"{path}:{number}: expected a JSON object")
        rows.append((number, record))
    return rows
