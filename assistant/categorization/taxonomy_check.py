"""Which category values of the Pyrus data do not map onto the taxonomy seed.

dbt maps a «Категория» value to the seed row whose `name_ru` (or code) equals it, or by
the explicit var `pyrus_category_choice_codes`; anything else silently becomes `other`.
`kb taxonomy check` and the categorize stage use this module to name those values with
their counts, so an operator sees what to fix (`kb taxonomy init`) instead of a model
that cannot train.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import yaml

from assistant.categorization.taxonomy import Taxonomy
from assistant.categorization.taxonomy_init import form_choices

logger = logging.getLogger(__name__)

DBT_PROJECT_FILE = Path(__file__).resolve().parents[2] / "dbt_project/dbt_project.yml"
FIX_COMMAND = "kb taxonomy init"


@dataclass(frozen=True)
class CategoryFieldRoles:
    """How dbt finds the category field and maps explicit choice ids (dbt_project.yml vars)."""

    codes: tuple[str, ...] = ("u_category",)
    names: tuple[str, ...] = ("Категория",)
    explicit_choice_codes: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UnmappedValue:
    """A category value that maps to no seed row, and how often it occurs."""

    name: str
    source: str  # "form" (a choice of the form) or "labels" (staff-set values on tickets)
    count: int


@dataclass(frozen=True)
class TaxonomyCheck:
    """The outcome of a check: unmapped values and how many labels map."""

    unmapped: tuple[UnmappedValue, ...]
    mapped_label_counts: dict[str, int]

    @property
    def usable_categories(self) -> int:
        """Categories other than `other` with at least one staff label."""
        return sum(1 for code, n in self.mapped_label_counts.items() if n and code != "other")

    def warning(self, taxonomy: Taxonomy) -> str | None:
        """One line naming the unmapped values and the command that fixes them."""
        if not self.unmapped:
            return None
        shown = ", ".join(f"«{u.name}» ({u.source}: {u.count})" for u in self.unmapped[:8])
        more = f" and {len(self.unmapped) - 8} more" if len(self.unmapped) > 8 else ""
        return (
            f"{len(self.unmapped)} category value(s) do not map to taxonomy {taxonomy.version} "
            f"and count as 'other': {shown}{more}; run `{FIX_COMMAND}` (then `kb refresh`) "
            "to build the seed from the Pyrus form, or edit dbt_project/seeds/categories.csv"
        )


def load_field_roles(project_file: Path = DBT_PROJECT_FILE) -> CategoryFieldRoles:
    """The category field's codes/names and explicit choice mapping from the dbt vars."""
    try:
        data = yaml.safe_load(project_file.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        logger.warning("cannot read %s (%s); using the default field names", project_file, exc)
        return CategoryFieldRoles()
    variables = data.get("vars") or {}
    codes = (variables.get("pyrus_field_codes") or {}).get("category") or []
    names = (variables.get("pyrus_field_names") or {}).get("category") or []
    explicit = variables.get("pyrus_category_choice_codes") or {}
    return CategoryFieldRoles(
        codes=tuple(str(c) for c in codes),
        names=tuple(str(n) for n in names),
        explicit_choice_codes={int(k): str(v) for k, v in explicit.items()},
    )


def maps_to(
    taxonomy: Taxonomy, name: str | None, choice_id: int | None, roles: CategoryFieldRoles
) -> bool:
    """dbt's rule (macros/categories.sql): explicit choice id, else name_ru or code match."""
    if choice_id is not None and choice_id in roles.explicit_choice_codes:
        return True
    key = (name or "").strip().lower()
    return any(key in (c.name_ru.strip().lower(), c.code) for c in taxonomy.categories)


def code_for(
    taxonomy: Taxonomy, name: str | None, choice_id: int | None, roles: CategoryFieldRoles
) -> str:
    """The code dbt gives this value (`other` when it maps to nothing)."""
    if choice_id is not None and choice_id in roles.explicit_choice_codes:
        return roles.explicit_choice_codes[choice_id]
    key = (name or "").strip().lower()
    for category in taxonomy.categories:
        if key in (category.name_ru.strip().lower(), category.code):
            return category.code
    return "other"


def check_values(
    taxonomy: Taxonomy,
    forms: Iterable[dict[str, Any]],
    labels: Iterable[tuple[str | None, int | None, int]],
    roles: CategoryFieldRoles,
) -> TaxonomyCheck:
    """Compare the forms' choices and the staff labels `(name, choice_id, count)` to the seed."""
    label_rows = list(labels)
    unmapped: list[UnmappedValue] = []
    label_counts: dict[str, int] = {}
    for name, choice_id, count in label_rows:
        if not (name or "").strip() and choice_id is None:
            continue
        code = code_for(taxonomy, name, choice_id, roles)
        label_counts[code] = label_counts.get(code, 0) + count
        if not maps_to(taxonomy, name, choice_id, roles):
            unmapped.append(UnmappedValue(name or f"#{choice_id}", "labels", count))
    labelled_names = {u.name for u in unmapped}
    for form in forms:
        try:
            choices = form_choices(form, roles.codes, roles.names)
        except Exception:  # a form without a category field has nothing to map
            continue
        for choice in choices:
            if choice.name in labelled_names:
                continue
            if maps_to(taxonomy, choice.name, choice.choice_id, roles):
                continue
            unmapped.append(UnmappedValue(choice.name, "form", 0))
            labelled_names.add(choice.name)
    unmapped.sort(key=lambda u: (-u.count, u.name))
    return TaxonomyCheck(unmapped=tuple(unmapped), mapped_label_counts=label_counts)


def read_forms(conn: psycopg.Connection, form_ids: Iterable[int] = ()) -> list[dict[str, Any]]:
    """Form payloads landed by the extract (`raw.pyrus_forms`), optionally only these ids."""
    ids = list(form_ids)
    rows = conn.execute(
        "select payload from raw.pyrus_forms "
        "where cardinality(%s::bigint[]) = 0 or form_id = any(%s::bigint[]) order by form_id",
        (ids, ids),
    ).fetchall()
    return [row[0] for row in rows if isinstance(row[0], dict)]


def read_label_counts(conn: psycopg.Connection) -> list[tuple[str | None, int | None, int]]:
    """Staff-set category values on tickets with counts.

    Read from the dbt view `intermediate.int_ticket_fields_pivoted_to_tickets`: a view over
    `raw.pyrus_tasks`, so tasks extracted since the last build count too
    (dbt_project/models/intermediate/support/int_ticket_fields_pivoted_to_tickets.yml).
    """
    rows = conn.execute(
        "select category_choice_name, category_choice_id, count(*) "
        "from intermediate.int_ticket_fields_pivoted_to_tickets "
        "where category_choice_name is not null or category_choice_id is not null "
        "group by 1, 2 order by 3 desc"
    ).fetchall()
    return [(row[0], row[1], int(row[2])) for row in rows]


def check_database(
    conn: psycopg.Connection, taxonomy: Taxonomy, roles: CategoryFieldRoles | None = None
) -> TaxonomyCheck:
    """Check the landed forms and the transformed tickets against the seed."""
    roles = roles or load_field_roles()
    labels: list[tuple[str | None, int | None, int]] = []
    try:
        with conn.transaction():
            labels = read_label_counts(conn)
    except psycopg.errors.UndefinedTable:
        logger.info(
            "intermediate.int_ticket_fields_pivoted_to_tickets does not exist yet "
            "(run transform); forms only"
        )
    forms: list[dict[str, Any]] = []
    try:
        with conn.transaction():
            forms = read_forms(conn)
    except psycopg.errors.UndefinedTable:
        logger.info("raw.pyrus_forms does not exist yet (run extract)")
    return check_values(taxonomy, forms, labels, roles)
