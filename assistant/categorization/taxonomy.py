"""The frozen, versioned category taxonomy read from the dbt seed `categories.csv`.

Categories are compared across periods, so the taxonomy must not change silently:
each version's content hash is registered in `kb.taxonomy_versions`, and a file whose
content changed while its `taxonomy_version` stayed the same is refused with a message
that says to bump the version.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from assistant.errors import KbError

logger = logging.getLogger(__name__)

DEFAULT_TAXONOMY_PATH = Path(__file__).resolve().parents[2] / "dbt_project/seeds/categories.csv"
FALLBACK_CODE = "other"
EXPECTED_COLUMNS = (
    "category_code",
    "name_ru",
    "description_ru",
    "example_phrases",
    "taxonomy_version",
)
_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,62}$")


class TaxonomyError(KbError):
    """The taxonomy file is missing or malformed."""


class TaxonomyDrift(TaxonomyError):
    """The taxonomy content changed but its version did not."""


@dataclass(frozen=True)
class Category:
    """One category: code, Russian name and description, example phrases."""

    code: str
    name_ru: str
    description_ru: str
    examples: tuple[str, ...]


@dataclass(frozen=True)
class Taxonomy:
    """All categories of one taxonomy version, in file order."""

    version: str
    categories: tuple[Category, ...]
    content_hash: str
    source: str

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(category.code for category in self.categories)

    def __contains__(self, code: object) -> bool:
        return code in self.codes

    def normalize_code(self, code: str | None) -> str | None:
        """A staff-entered code mapped onto this taxonomy (unknown → `other`, empty → None)."""
        if code is None or not code.strip():
            return None
        cleaned = code.strip().lower()
        if cleaned in self.codes:
            return cleaned
        return FALLBACK_CODE


def content_hash(categories: tuple[Category, ...]) -> str:
    """A hash of everything but the version, so an unversioned edit is detectable."""
    canonical = [
        {
            "code": c.code,
            "name_ru": c.name_ru,
            "description_ru": c.description_ru,
            "examples": list(c.examples),
        }
        for c in sorted(categories, key=lambda c: c.code)
    ]
    payload = json.dumps(canonical, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def parse_taxonomy(text: str, source: str = "<string>") -> Taxonomy:
    """Parse and validate the CSV text of the seed."""
    reader = csv.DictReader(text.lstrip("\ufeff").splitlines())
    header = tuple(name.strip() for name in (reader.fieldnames or ()))
    missing = [column for column in EXPECTED_COLUMNS if column not in header]
    if missing:
        raise TaxonomyError(f"{source}: missing column(s) {', '.join(missing)}")
    categories: list[Category] = []
    versions: set[str] = set()
    for line_no, row in enumerate(reader, start=2):
        code = (row.get("category_code") or "").strip()
        name = (row.get("name_ru") or "").strip()
        version = (row.get("taxonomy_version") or "").strip()
        if not code and not name:
            continue
        if not _CODE_RE.match(code):
            raise TaxonomyError(f"{source}:{line_no}: invalid category_code {code!r}")
        if not name:
            raise TaxonomyError(f"{source}:{line_no}: empty name_ru for {code}")
        if not version:
            raise TaxonomyError(f"{source}:{line_no}: empty taxonomy_version for {code}")
        if any(existing.code == code for existing in categories):
            raise TaxonomyError(f"{source}:{line_no}: duplicate category_code {code}")
        examples = tuple(
            part.strip() for part in (row.get("example_phrases") or "").split("|") if part.strip()
        )
        categories.append(
            Category(
                code=code,
                name_ru=name,
                description_ru=(row.get("description_ru") or "").strip(),
                examples=examples,
            )
        )
        versions.add(version)
    if not categories:
        raise TaxonomyError(f"{source}: no categories")
    if len(versions) != 1:
        raise TaxonomyError(
            f"{source}: rows disagree on taxonomy_version ({', '.join(sorted(versions))})"
        )
    if FALLBACK_CODE not in {c.code for c in categories}:
        raise TaxonomyError(f"{source}: the fallback category {FALLBACK_CODE!r} is required")
    frozen = tuple(categories)
    return Taxonomy(
        version=versions.pop(), categories=frozen, content_hash=content_hash(frozen), source=source
    )


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Read the seed file (default: `dbt_project/seeds/categories.csv`)."""
    target = path or DEFAULT_TAXONOMY_PATH
    try:
        text = target.read_text("utf-8")
    except OSError as exc:
        raise TaxonomyError(f"cannot read the taxonomy seed {target}: {exc.strerror}") from exc
    return parse_taxonomy(text, source=str(target))


def register_taxonomy(conn: psycopg.Connection, taxonomy: Taxonomy) -> bool:
    """Record this version's content hash; returns True when the version is new.

    Raises `TaxonomyDrift` when the version is known with another content hash:
    labels of one version must mean the same thing in every period.
    """
    row = conn.execute(
        "select content_hash from kb.taxonomy_versions where taxonomy_version = %s",
        (taxonomy.version,),
    ).fetchone()
    if row is not None:
        if row[0] != taxonomy.content_hash:
            raise TaxonomyDrift(
                f"taxonomy {taxonomy.source} changed without a version bump: version "
                f"{taxonomy.version} was registered with hash {row[0][:12]}, the file now "
                f"hashes to {taxonomy.content_hash[:12]}; bump taxonomy_version in the seed"
            )
        return False
    conn.execute(
        "insert into kb.taxonomy_versions (taxonomy_version, content_hash, category_codes) "
        "values (%s, %s, %s) on conflict (taxonomy_version) do nothing",
        (taxonomy.version, taxonomy.content_hash, list(taxonomy.codes)),
    )
    logger.info(
        "registered taxonomy version %s (%d categories)", taxonomy.version, len(taxonomy.categories)
    )
    return True
