"""The documents name everything a reader has to find, so they cannot drift behind the code.

Docs drifted before: two stages and four tables were added without `docs/architecture.md`
hearing of them, and the dbt lineage missed the quality models. Each kind of thing has one
document that must name it, and this test fails, naming the document and the missing names,
when a change adds one without documenting it:

- a refresh stage (`flows.stages.REFRESH_ORDER`): a row of the stage table in
  `docs/architecture.md` §4 (one row each, in order), `flows/refresh.py`'s docstring (in
  order) and the README's `kb refresh` row;
- a table a migration creates (`assistant/migrations/*.sql`): the ownership table of
  `docs/architecture.md` §5, with the module that writes it;
- a dbt model (`dbt_project/models/**/*.sql`): a lineage line of its own in
  `dbt_project/README.md`;
- a mart (`dbt_project/models/marts/**/*.sql`): the dbt docs' start page,
  `dbt_project/models/overview.md`;
- a Prefect artifact key a flow publishes (`flows/*.py`): the Prefect runbook in
  `docs/operations.md`.

And the README stays a front page: at most 250 lines, linking every document under `docs/`
and the two folder READMEs, with every `file.md#anchor` link pointing at a real heading.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 250

CREATE_TABLE = re.compile(
    r"\bcreate\s+(?:unlogged\s+)?table\s+(?:if\s+not\s+exists\s+)?([a-z_]+\.[a-z_0-9]+)",
    re.IGNORECASE,
)
DROP_TABLE = re.compile(r"\bdrop\s+table\s+(?:if\s+exists\s+)?([a-z_]+\.[a-z_0-9]+)", re.I)
ARTIFACT_KEY = re.compile(r"\b\w*ARTIFACT_KEY\s*=\s*\"([a-z0-9-]+)\"")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def read(path: str) -> str:
    return (ROOT / path).read_text(encoding="utf-8")


def headings(text: str) -> list[tuple[int, int, str]]:
    """(line index, level, title) of every markdown heading outside fenced code blocks."""
    found, fenced = [], False
    for number, line in enumerate(text.splitlines()):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"(#+) (.+)", line)):
            found.append((number, len(match.group(1)), match.group(2)))
    return found


def section(text: str, heading: str) -> str:
    """The body under the first heading that starts with `heading`, up to the next heading
    of the same or a higher level."""
    lines = text.splitlines()
    marks = headings(text)
    start = next((i for i, (_, _, title) in enumerate(marks) if title.startswith(heading)), None)
    assert start is not None, f"no heading {heading!r}"
    first, level, _ = marks[start]
    last = next((n for n, lvl, _ in marks[start + 1 :] if lvl <= level), len(lines))
    return "\n".join(lines[first + 1 : last])


def refresh_stages() -> tuple[str, ...]:
    from flows.stages import REFRESH_ORDER

    return REFRESH_ORDER


def in_order(text: str, names: tuple[str, ...]) -> list[str]:
    """Names not found as words in `text` after the previous name's first occurrence."""
    missing, position = [], 0
    for name in names:
        match = re.compile(rf"\b{re.escape(name)}\b").search(text, position)
        if match is None:
            missing.append(name)
        else:
            position = match.end()
    return missing


def test_the_architecture_stage_table_has_one_row_per_stage_in_order() -> None:
    table = section(read("docs/architecture.md"), "4.")
    rows = re.findall(r"^\| ([a-z_]+) \| `", table, re.MULTILINE)  # not the header row
    assert rows == list(refresh_stages()), (
        "docs/architecture.md §4 must list the refresh stages, one row each, in the order of "
        f"flows.stages.REFRESH_ORDER: {list(refresh_stages())}; it lists {rows}"
    )


def test_the_refresh_docstring_names_every_stage_in_order() -> None:
    import flows.refresh

    missing = in_order(flows.refresh.__doc__ or "", refresh_stages())
    assert not missing, f"flows/refresh.py's docstring misses (or misorders) stages: {missing}"


def test_the_readme_command_table_names_every_stage() -> None:
    row = next(line for line in read("README.md").splitlines() if line.startswith("| `kb refresh"))
    missing = [name for name in refresh_stages() if not re.search(rf"\b{name}\b", row)]
    assert not missing, f"the README's `kb refresh` row misses stages: {missing}"


def migration_tables() -> set[str]:
    created: set[str] = set()
    for path in sorted((ROOT / "assistant/migrations").glob("*.sql")):
        sql = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8"))
        created |= {name.lower() for name in CREATE_TABLE.findall(sql)}
        created -= {name.lower() for name in DROP_TABLE.findall(sql)}
    return created


def test_the_migrations_create_tables_at_all() -> None:
    """Guards the parser: if it found nothing, the next test would pass on nothing."""
    assert {"raw.pyrus_tasks", "kb.chunks", "assistant.suggestions"} <= migration_tables()


def test_every_migration_table_is_in_the_architecture_ownership_table() -> None:
    ownership = section(read("docs/architecture.md"), "5.")
    named = set(re.findall(r"`([a-z_]+\.[a-z_0-9]+)`", ownership))
    missing = sorted(migration_tables() - named)
    assert not missing, (
        "tables created in assistant/migrations/*.sql but missing from the ownership table of "
        f"docs/architecture.md §5 (say which module writes them): {missing}"
    )


def dbt_models(under: str = "") -> set[str]:
    return {path.stem for path in (ROOT / "dbt_project/models" / under).rglob("*.sql")}


def test_every_dbt_model_has_a_lineage_line_in_the_dbt_readme() -> None:
    text = read("dbt_project/README.md")
    lineage = re.search(r"Lineage.*?```\n(.*?)```", text, re.DOTALL)
    assert lineage is not None, "dbt_project/README.md has no lineage block"
    listed = set(re.findall(r"^\s+([a-z_0-9]+)\s+←", lineage.group(1), re.MULTILINE))
    models = dbt_models()
    assert models, "no dbt models found"
    missing = sorted(models - listed)
    assert not missing, (
        "dbt models without a line `model ← inputs` in the lineage of dbt_project/README.md: "
        f"{missing}"
    )


def test_every_mart_is_on_the_dbt_docs_start_page() -> None:
    overview = read("dbt_project/models/overview.md")
    missing = sorted(mart for mart in dbt_models("marts") if f"`{mart}`" not in overview)
    assert not missing, (
        "marts an analyst cannot find from the dbt docs' start page "
        f"(dbt_project/models/overview.md): {missing}"
    )


def published_artifact_keys() -> set[str]:
    from flows.artifacts import ARTIFACT_KEYS

    keys = set(ARTIFACT_KEYS)
    for path in (ROOT / "flows").rglob("*.py"):
        keys |= set(ARTIFACT_KEY.findall(path.read_text(encoding="utf-8")))
    return keys


def test_the_prefect_runbook_lists_every_artifact_key() -> None:
    runbook = section(read("docs/operations.md"), "Run the daily flow under Prefect")
    keys = published_artifact_keys()
    assert {"label-summary", "tune-summary", "kb-refresh-summary"} <= keys
    missing = sorted(key for key in keys if f"`{key}`" not in runbook)
    assert not missing, f"artifact keys the runbook in docs/operations.md does not list: {missing}"


def test_the_readme_is_a_front_page() -> None:
    lines = read("README.md").count("\n")
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines (at most {README_MAX_LINES}): move method notes, "
        "figures and runbooks to docs/ and link them"
    )


def test_the_readme_links_every_document() -> None:
    readme = read("README.md")
    targets = {link.split("#", 1)[0] for link in LINK.findall(readme)}
    documents = {path.relative_to(ROOT).as_posix() for path in (ROOT / "docs").glob("*.md")}
    documents |= {"sample_data/README.md", "dbt_project/README.md"}
    missing = sorted(documents - targets)
    assert not missing, f"documents a reader cannot reach from README.md: {missing}"


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


MARKDOWN = ("README.md", "sample_data/README.md", "dbt_project/README.md", "docs/*.md")


@pytest.mark.parametrize(
    "document",
    sorted({p.relative_to(ROOT).as_posix() for pattern in MARKDOWN for p in ROOT.glob(pattern)}),
)
def test_every_anchor_link_points_at_a_heading(document: str) -> None:
    broken = []
    for link in LINK.findall(read(document)):
        if "://" in link or "#" not in link:
            continue
        path, anchor = link.split("#", 1)
        target = (ROOT / document).parent / path if path else ROOT / document
        if not target.is_file():
            continue  # a missing file is tests/test_docs_references.py's finding
        titles = [title for _, _, title in headings(target.read_text(encoding="utf-8"))]
        if anchor not in {slug(title) for title in titles}:
            broken.append(link)
    assert not broken, f"{document} links to headings that do not exist: {broken}"
