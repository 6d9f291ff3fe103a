"""Russian display names for the effect report, from the same seeds the marts join.

The marts and `kb.effect_estimates` keep codes (`frt_bm`, `post_vs_pre`, category
codes); people read names with units. Metric, comparison, method, arm and segment names
come from `dbt_project/seeds/effect_labels.csv`, category names from the taxonomy seed,
so the report and the BI marts never disagree.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

from assistant.categorization.taxonomy import TaxonomyError, load_taxonomy

logger = logging.getLogger(__name__)

DEFAULT_LABELS_PATH = Path(__file__).resolve().parents[2] / "dbt_project/seeds/effect_labels.csv"


@dataclass(frozen=True)
class Label:
    """A display name, its unit (metrics only) and a one-sentence explanation."""

    name: str
    unit: str = ""
    description: str = ""


@dataclass(frozen=True)
class Labels:
    """Lookup of display names by kind and code; unknown codes show as themselves."""

    by_kind: dict[str, dict[str, Label]] = field(default_factory=dict)

    def get(self, kind: str, code: str) -> Label:
        return self.by_kind.get(kind, {}).get(code) or Label(name=code)

    def name(self, kind: str, code: str) -> str:
        return self.get(kind, code).name

    def metric(self, code: str) -> Label:
        return self.get("metric", code)

    def segment(self, code: str) -> str:
        """A category's Russian name, or the ALL segment's."""
        return self.get("segment", code).name


def load_labels(path: Path = DEFAULT_LABELS_PATH, taxonomy_path: Path | None = None) -> Labels:
    """Read the labels seed and the category names; a missing file leaves codes as names."""
    by_kind: dict[str, dict[str, Label]] = {}
    try:
        rows = list(csv.DictReader(path.read_text("utf-8").lstrip("\ufeff").splitlines()))
    except OSError as exc:
        logger.warning("cannot read %s (%s); the report shows codes", path, exc.strerror)
        rows = []
    for row in rows:
        label = Label(
            name=(row.get("name_ru") or row.get("code") or "").strip(),
            unit=(row.get("unit_ru") or "").strip(),
            description=(row.get("description_ru") or "").strip(),
        )
        by_kind.setdefault((row.get("kind") or "").strip(), {})[(row.get("code") or "").strip()] = (
            label
        )
    try:
        taxonomy = load_taxonomy(taxonomy_path)
    except TaxonomyError as exc:
        logger.warning("category names unavailable (%s); the report shows codes", exc)
    else:
        segments = by_kind.setdefault("segment", {})
        for category in taxonomy.categories:
            segments.setdefault(category.code, Label(category.name_ru))
    segments = by_kind.setdefault("segment", {})
    segments.setdefault("unknown", Label("Без категории"))
    return Labels(by_kind)
