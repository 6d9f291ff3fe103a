"""Stage summaries as people read them: Prefect table artifacts and terminal lines.

Every flow ends with a table artifact under a stable key (`ARTIFACT_KEYS`); rows are
`metric | value` with values rendered as text — numbers rounded, nested counts as
`name 3, other 5`, never a Python dict repr — so the Prefect UI shows whole cells.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# key → what it holds; the README's runbook lists the same keys
ARTIFACT_KEYS = {
    "extract-pyrus-summary": "Pyrus extract: new/changed/unchanged/tombstoned, requests",
    "extract-confluence-summary": "Confluence extract: the same counts",
    "extract-sql-summary": "SQL extract: the same counts",
    "kb-transform": "dbt build: models, tests, failing tests",
    "categorize-summary": "model version, tickets labelled, staff–model agreement",
    "kb-index": "documents and chunks embedded / skipped / deleted",
    "replay-summary": "bot decisions logged for history tickets",
    "score-summary": "draft usage classes and calibrated thresholds",
    "label-summary": "answer labels: tickets examined / labelled, by method",
    "tune-summary": "retrieval tuning: changed or not, the version and the reason",
    "effect-estimates": "effect estimates with 95 % CIs",
    "effect-report": "the verdict and a link to the full HTML report (markdown)",
    "kb-refresh-summary": "one row per stage: status, seconds, one column per count",
}


def readable(value: Any) -> str:
    """One cell: floats to 4 significant places, mappings as `key value, …`, None as —."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{key} {readable(item)}" for key, item in value.items()) or "—"
    if isinstance(value, list | tuple | set):
        return ", ".join(readable(item) for item in value) or "—"
    return str(value)


def metric_rows(summary: Mapping[str, Any], keys: Iterable[str] | None = None) -> list[dict]:
    """`metric | value` rows of a summary (all keys, or the given ones in that order)."""
    names = list(keys) if keys is not None else list(summary)
    return [{"metric": name, "value": readable(summary.get(name))} for name in names]


def flat_cells(summary: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """One cell per count: nested counts (per source) become `pyrus new`, `pyrus changed`."""
    cells: dict[str, str] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            cells |= flat_cells(value, prefix=f"{name} ")
        else:
            cells[name] = readable(value)
    return cells


def wide_table(rows: list[tuple[dict[str, str], Mapping[str, Any]]]) -> list[dict[str, str]]:
    """Rows of (fixed cells, summary) as one table: the fixed columns, then one column per
    count in order of first appearance; a stage without that count shows an empty cell."""
    flat = [(fixed, flat_cells(summary)) for fixed, summary in rows]
    columns: dict[str, None] = {}
    for fixed, cells in flat:
        columns |= dict.fromkeys([*fixed, *cells])
    return [{name: {**fixed, **cells}.get(name, "") for name in columns} for fixed, cells in flat]


def one_line(summary: Mapping[str, Any], *, skip: Iterable[str] = ("seconds",)) -> str:
    """A summary on one terminal line: `new 5, changed 0` or, per source, `pyrus: new 5; …`."""
    hidden = set(skip)
    if summary and all(isinstance(value, Mapping) for value in summary.values()):
        return "; ".join(f"{key}: {one_line(inner, skip=hidden)}" for key, inner in summary.items())
    return ", ".join(
        f"{key} {readable(value)}" for key, value in summary.items() if key not in hidden
    )


def publish_summary(
    key: str, summary: Mapping[str, Any], description: str, keys: Iterable[str] | None = None
) -> None:
    """The flow's closing artifact: a metric/value table under a stable key."""
    from prefect.artifacts import create_table_artifact

    create_table_artifact(key=key, table=metric_rows(summary, keys), description=description)
