"""Build the taxonomy seed from an organization's own Pyrus form (`kb taxonomy init`).

A new organization's «Категория» field has its own choices; with the shipped seed every
one of them maps to `other` and the classifier cannot train. This module turns the
form's choices into `dbt_project/seeds/categories.csv` (a category per live choice,
named exactly as the choice so dbt's name match maps it, plus the `other` fallback)
and keeps `sla_policy.csv` valid for the new codes. The form shape (field `info.options`
with `choice_id`, `choice_value`, `deleted`) is described in docs/pyrus-api.md §2.

Codes are stable across reruns: a choice that already has a row (same name) keeps its
code; a new choice gets a transliterated slug. The version is bumped only when the
content changes, so a rerun on an unchanged form writes nothing new.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.categorization.taxonomy import (
    EXPECTED_COLUMNS,
    FALLBACK_CODE,
    Category,
    Taxonomy,
    TaxonomyError,
    content_hash,
)

DEFAULT_SLA_PATH = Path(__file__).resolve().parents[2] / "dbt_project/seeds/sla_policy.csv"
SLA_COLUMNS = ("category_code", "priority", "frt_target_bm", "resolution_target_bm")
ANY_CATEGORY = "*"
# Used only when the current policy has neither `*` rows nor `other` rows to copy.
DEFAULT_SLA_TARGETS = (
    ("Критический", 30, 480),
    ("Высокий", 120, 1440),
    ("Обычный", 240, 2880),
    ("Низкий", 480, 4320),
)
CATEGORY_FIELD_TYPES = ("multiple_choice",)
OTHER_NAME_RU = "Прочее"
OTHER_DESCRIPTION_RU = "Обращения, которые не подходят ни под одну категорию формы"

# Russian → Latin (a simplified BGN/PCGN: ъ and ь drop out).
_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "a b v g d e e zh z i i k l m n o p r s t u f kh ts ch sh shch - y - e yu ya".split(),  # noqa: SIM905
        strict=True,
    )
)
_TRANSLIT.update({"ъ": "", "ь": ""})


@dataclass(frozen=True)
class FormChoice:
    """One live choice of the category field."""

    form_id: int | None
    field_id: int
    choice_id: int | None
    name: str


@dataclass(frozen=True)
class TaxonomyPlan:
    """What `kb taxonomy init` would write, and how it differs from the current seed."""

    categories: tuple[Category, ...]
    version: str
    changed: bool
    added: tuple[str, ...]
    removed: tuple[str, ...]


def slug_code(name: str) -> str:
    """A seed code for a Russian choice name: transliterated, lowercase, `_`-separated.

    Deterministic, so the same name always gets the same code; `c_` is prefixed when
    the name starts with a digit (codes must start with a letter).
    """
    latin = "".join(_TRANSLIT.get(char, char) for char in name.strip().lower())
    slug = re.sub(r"[^a-z0-9]+", "_", latin).strip("_")[:60].rstrip("_")
    if not slug:
        slug = "category"
    if not slug[0].isalpha():
        slug = f"c_{slug}"
    return slug


def _walk_fields(fields: Any) -> Iterator[dict[str, Any]]:
    """Every field definition, including title (section) children."""
    for field in fields if isinstance(fields, list) else ():
        if not isinstance(field, dict):
            continue
        yield field
        info = field.get("info")
        if isinstance(info, dict):
            yield from _walk_fields(info.get("fields"))


def find_category_field(
    form: dict[str, Any], codes: Iterable[str], names: Iterable[str]
) -> dict[str, Any] | None:
    """The form's category field: by `info.code` first, then by name (dbt vars' rule)."""
    code_set = set(codes)
    name_set = {name.strip().lower() for name in names}
    fields = _walk_fields(form.get("fields"))
    candidates = [f for f in fields if f.get("type") in CATEGORY_FIELD_TYPES]
    for field in candidates:
        info = field.get("info") if isinstance(field.get("info"), dict) else {}
        if info.get("code") in code_set:
            return field
    for field in candidates:
        if str(field.get("name", "")).strip().lower() in name_set:
            return field
    return None


def form_choices(
    form: dict[str, Any], codes: Iterable[str], names: Iterable[str]
) -> list[FormChoice]:
    """The live (not deleted) choices of the form's category field, in form order."""
    field = find_category_field(form, codes, names)
    if field is None:
        raise TaxonomyError(
            f"form {form.get('id')} has no multiple_choice category field "
            f"(code {sorted(codes)} or name {sorted(names)}); set pyrus_field_codes / "
            "pyrus_field_names in dbt_project/dbt_project.yml"
        )
    options = (field.get("info") or {}).get("options") or []
    choices: list[FormChoice] = []
    for option in options:
        if not isinstance(option, dict) or option.get("deleted"):
            continue
        name = str(option.get("choice_value") or "").strip()
        if name:
            choice_id = option.get("choice_id")
            choices.append(
                FormChoice(
                    form_id=form.get("id"),
                    field_id=int(field["id"]),
                    choice_id=int(choice_id) if isinstance(choice_id, int | str) else None,
                    name=name,
                )
            )
    return choices


def bump_version(version: str | None) -> str:
    """`2026.1` → `2026.2`; anything else gets `.1` appended; no version → `1`."""
    if not version:
        return "1"
    match = re.fullmatch(r"(.*?)(\d+)", version)
    if match:
        return f"{match.group(1)}{int(match.group(2)) + 1}"
    return f"{version}.1"


def plan_taxonomy(choices: Iterable[FormChoice], current: Taxonomy | None) -> TaxonomyPlan:
    """The categories for these choices, reusing the current codes and texts by name."""
    by_name = {c.name_ru.strip().lower(): c for c in current.categories} if current else {}
    by_code = {c.code: c for c in current.categories} if current else {}
    categories: list[Category] = []
    used: set[str] = set()
    seen_names: set[str] = set()
    for choice in choices:
        key = choice.name.lower()
        if key in seen_names:
            continue
        seen_names.add(key)
        existing = by_name.get(key) or by_code.get(key)
        if existing is not None and existing.code not in used:
            categories.append(existing)
            used.add(existing.code)
            continue
        base = slug_code(choice.name)
        code, suffix = base, 2
        while code in used or code == FALLBACK_CODE:
            code, suffix = f"{base[:58]}_{suffix}", suffix + 1
        used.add(code)
        categories.append(Category(code=code, name_ru=choice.name, description_ru="", examples=()))
    if FALLBACK_CODE not in used:
        categories.append(
            by_code.get(FALLBACK_CODE)
            or Category(
                code=FALLBACK_CODE,
                name_ru=OTHER_NAME_RU,
                description_ru=OTHER_DESCRIPTION_RU,
                examples=(),
            )
        )
    frozen = tuple(categories)
    old_codes = current.codes if current else ()
    changed = current is None or content_hash(frozen) != current.content_hash
    version = bump_version(current.version if current else None) if changed else current.version
    new_codes = tuple(c.code for c in frozen)
    return TaxonomyPlan(
        categories=frozen,
        version=version,
        changed=changed,
        added=tuple(code for code in new_codes if code not in old_codes),
        removed=tuple(code for code in old_codes if code not in new_codes),
    )


def render_categories_csv(categories: Iterable[Category], version: str) -> str:
    """The seed file text (the columns `taxonomy.parse_taxonomy` expects)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPECTED_COLUMNS)
    for c in categories:
        writer.writerow([c.code, c.name_ru, c.description_ru, " | ".join(c.examples), version])
    return out.getvalue()


def render_sla_policy(current_text: str | None, codes: Iterable[str]) -> str:
    """`sla_policy.csv` valid for these codes: per-category rows kept, `*` defaults ensured.

    Rows of categories that no longer exist are dropped (dbt's relationships test would
    fail on them). The `*` rows apply to every category without its own row; when the
    file has none, the `other` rows (or built-in targets) become the defaults.
    """
    keep = set(codes)
    rows = list(csv.DictReader((current_text or "").lstrip("\ufeff").splitlines()))
    specific = [r for r in rows if r.get("category_code") in keep]
    defaults = [r for r in rows if r.get("category_code") == ANY_CATEGORY]
    if not defaults:
        source = [r for r in rows if r.get("category_code") == FALLBACK_CODE]
        defaults = [{**r, "category_code": ANY_CATEGORY} for r in source] or [
            {
                "category_code": ANY_CATEGORY,
                "priority": priority,
                "frt_target_bm": str(frt),
                "resolution_target_bm": str(resolution),
            }
            for priority, frt, resolution in DEFAULT_SLA_TARGETS
        ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SLA_COLUMNS)
    for row in [*defaults, *specific]:
        writer.writerow([row.get(column, "") for column in SLA_COLUMNS])
    return out.getvalue()


def write_seeds(
    plan: TaxonomyPlan, categories_path: Path, sla_path: Path | None = DEFAULT_SLA_PATH
) -> list[Path]:
    """Write the seed files that change; returns the paths written."""
    written: list[Path] = []
    text = render_categories_csv(plan.categories, plan.version)
    if not categories_path.exists() or categories_path.read_text("utf-8") != text:
        categories_path.write_text(text, encoding="utf-8")
        written.append(categories_path)
    if sla_path is not None:
        current = sla_path.read_text("utf-8") if sla_path.exists() else None
        sla_text = render_sla_policy(current, (c.code for c in plan.categories))
        if current != sla_text:
            sla_path.write_text(sla_text, encoding="utf-8")
            written.append(sla_path)
    return written
