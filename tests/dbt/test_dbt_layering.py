"""The dbt layers stay layers: one source declaration per table, sources read by staging only,
staging 1:1 with its source.

Read from the project files (no database): a second declaration of a table under another
source name, or an intermediate model or mart calling `source()` (directly or through
`source_or_empty`), lets two models read the same table two ways; a staging model calling
`ref()` (a seed or another model, e.g. the category mapping) hides a business rule where
only renames, casts and unpacking belong.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"
MODELS = PROJECT / "models"
# The extract run log is declared once per source system on purpose: each declaration is
# only a freshness check with its own filter (`source = 'pyrus'` / `'confluence'`), and no
# model reads it.
FRESHNESS_ONLY = {("raw", "extract_runs")}
SOURCE_CALL = re.compile(r"""\bsource(?:_or_empty)?\(\s*['"](\w+)['"]\s*,\s*['"](\w+)['"]""")
REF_CALL = re.compile(r"""\bref\(\s*['"](\w+)['"]""")


def declared_tables(models: Path = MODELS) -> list[tuple[str, str, str]]:
    """(schema, table, file) of every source table declared in the project."""
    found = []
    for path in sorted(models.rglob("*.yml")):
        document = yaml.safe_load(path.read_text("utf-8")) or {}
        for source in document.get("sources") or []:
            schema = source.get("schema") or source["name"]
            for table in source.get("tables") or []:
                found.append((schema, table.get("identifier") or table["name"], str(path)))
    return found


def test_every_table_is_declared_once_in_staging() -> None:
    tables = declared_tables()
    counts = Counter((s, t) for s, t, _ in tables)
    twice = [key for key, n in counts.items() if n > 1 and key not in FRESHNESS_ONLY]
    assert twice == []
    outside = [path for _, _, path in tables if "/models/staging/" not in path]
    assert outside == []


def test_only_staging_models_read_sources() -> None:
    readers = [
        f"{path.relative_to(PROJECT)}: {match.group(1)}.{match.group(2)}"
        for path in sorted(MODELS.rglob("*.sql"))
        if "staging" not in path.relative_to(MODELS).parts
        for match in SOURCE_CALL.finditer(path.read_text("utf-8"))
    ]
    assert readers == []
    read = {
        (match.group(1), match.group(2))
        for path in MODELS.rglob("*.sql")
        for match in SOURCE_CALL.finditer(path.read_text("utf-8"))
    }
    assert not {name for name in read if name[1].endswith("extract_runs")}


def staging_refs(models: Path = MODELS) -> list[str]:
    """`<model file>: <ref'd name>` for every ref() in a staging model's SQL (seeds included)."""
    return [
        f"{path.relative_to(models)}: {match.group(1)}"
        for path in sorted(models.rglob("*.sql"))
        if "staging" in path.relative_to(models).parts
        for match in REF_CALL.finditer(path.read_text("utf-8"))
    ]


def test_staging_models_ref_no_seed_and_no_other_model() -> None:
    assert staging_refs() == []
    staged = sorted(p.stem for p in (MODELS / "staging").rglob("stg_*.sql"))
    assert "stg_pyrus__tasks" in staged  # the walk found the models it guards


def test_a_staging_ref_is_caught(tmp_path: Path) -> None:
    pyrus = tmp_path / "staging" / "pyrus"
    pyrus.mkdir(parents=True)
    (pyrus / "stg_pyrus__tasks.sql").write_text(
        "with tasks as (select * from {{ source('pyrus', 'pyrus_tasks') }}),\n"
        "categories as (select * from {{ ref( 'categories' ) }})\n"
        "select * from tasks",
        "utf-8",
    )
    (tmp_path / "intermediate").mkdir()
    (tmp_path / "intermediate" / "int_x.sql").write_text("select * from {{ ref('stg_a') }}")
    assert staging_refs(tmp_path) == ["staging/pyrus/stg_pyrus__tasks.sql: categories"]


def test_a_second_declaration_is_caught(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    marts = tmp_path / "marts"
    staging.mkdir()
    marts.mkdir()
    one = (
        "sources:\n  - name: {name}\n    schema: assistant\n"
        "    tables:\n      - name: suggestions\n"
    )
    (staging / "_a__sources.yml").write_text(one.format(name="assistant"), "utf-8")
    (marts / "_b__sources.yml").write_text(one.format(name="assistant_effect"), "utf-8")
    tables = declared_tables(tmp_path)
    assert Counter((s, t) for s, t, _ in tables)[("assistant", "suggestions")] == 2
