"""Loading and rendering the hand-written Russian content under ``sample_data/content``.

Content is YAML so writers can edit it without touching code; rendering only fills
``{slot}`` placeholders, so every sentence a user reads was written by a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"
REPO_ROOT = CONTENT_DIR.parent.parent
CATEGORIES_CSV = REPO_ROOT / "dbt_project" / "seeds" / "categories.csv"


class ContentError(ValueError):
    """The hand-written content is incomplete or malformed."""


@dataclass(frozen=True)
class Query:
    """A fresh customer ticket (not in history) written as a paraphrase of an archetype."""

    subject: str
    text: str


@dataclass(frozen=True)
class Archetype:
    """One recurring support problem with its phrasings and the staff's fix."""

    key: str
    category: str
    summary: str
    subjects: tuple[str, ...]
    messages: tuple[str, ...]
    clarify: str
    answer: str
    note: str
    queries: tuple[Query, ...] = field(default_factory=tuple)
    forms: tuple[str, ...] = ()  # client forms that make sense for this problem (empty: any)


@dataclass(frozen=True)
class Category:
    """A row of the taxonomy seed."""

    code: str
    name_ru: str


def load_categories(path: Path = CATEGORIES_CSV) -> list[Category]:
    """Read the taxonomy seed, keeping its row order (choice ids follow it)."""
    import csv

    with path.open(encoding="utf-8", newline="") as handle:
        return [Category(row["category_code"], row["name_ru"]) for row in csv.DictReader(handle)]


def load_common(content_dir: Path = CONTENT_DIR) -> dict[str, Any]:
    """Slot values and generic phrases shared by all archetypes."""
    return yaml.safe_load((content_dir / "common.yaml").read_text(encoding="utf-8"))


def load_archetypes(content_dir: Path = CONTENT_DIR) -> list[Archetype]:
    """Join the archetype catalog with the per-category ticket texts, in catalog order."""
    catalog = yaml.safe_load((content_dir / "archetypes.yaml").read_text(encoding="utf-8"))
    texts: dict[str, dict[str, Any]] = {}
    for path in sorted((content_dir / "tickets").glob("*.yaml")):
        for key, value in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
            if key in texts:
                raise ContentError(f"archetype {key} is written twice (second in {path.name})")
            texts[key] = value
    known = {item["key"] for item in catalog["archetypes"]}
    unknown = sorted(set(texts) - known)
    if unknown:
        raise ContentError(f"ticket texts for archetypes missing from the catalog: {unknown}")
    result = []
    for item in catalog["archetypes"]:
        text = texts.get(item["key"])
        if text is None:
            continue  # catalog entry without written tickets yet: not generated
        try:
            result.append(
                Archetype(
                    key=item["key"],
                    category=item["category"],
                    summary=item["summary"],
                    subjects=tuple(text["subjects"]),
                    messages=tuple(text["messages"]),
                    clarify=text["clarify"],
                    answer=text["answer"].strip(),
                    note=text["note"],
                    queries=tuple(Query(q["subject"], q["text"]) for q in text.get("queries", [])),
                    forms=tuple(text.get("forms", [])),
                )
            )
        except KeyError as exc:
            raise ContentError(f"archetype {item['key']} lacks {exc}") from exc
    return result


_SLOT = re.compile(r"\{([a-z_]+)\}")


def render(template: str, slots: dict[str, str]) -> str:
    """Fill ``{name}`` placeholders (JSON braces in texts are left alone).

    A placeholder without a slot value is an error, so a typo in content fails loudly.
    """

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in slots:
            raise ContentError(f"no slot value for {{{name}}} in: {template[:60]}")
        return slots[name]

    return _SLOT.sub(fill, template)
