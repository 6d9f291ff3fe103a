"""The taxonomy seed: parsing, validation, and drift detection in the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.categorization.taxonomy import (
    DEFAULT_TAXONOMY_PATH,
    TaxonomyDrift,
    TaxonomyError,
    load_taxonomy,
    parse_taxonomy,
    register_taxonomy,
)
from assistant.db import connect
from tests.categorization.categorize_data import TAXONOMY_CSV, write_taxonomy


def test_parses_codes_examples_and_version(tmp_path: Path) -> None:
    taxonomy = load_taxonomy(write_taxonomy(tmp_path))
    assert taxonomy.version == "t1"
    assert taxonomy.codes[0] == "forms_fields"
    assert "other" in taxonomy
    forms = taxonomy.categories[0]
    assert forms.name_ru == "Формы и поля"
    assert forms.examples == ("поле красное", "нет кнопки Шаблон")


def test_project_seed_is_valid_when_present() -> None:
    if not DEFAULT_TAXONOMY_PATH.exists():
        pytest.skip("dbt_project/seeds/categories.csv not written yet")
    taxonomy = load_taxonomy()
    assert "other" in taxonomy
    assert len(set(taxonomy.codes)) == len(taxonomy.codes)


def test_hash_ignores_version_but_not_content() -> None:
    base = parse_taxonomy(TAXONOMY_CSV)
    bumped = parse_taxonomy(TAXONOMY_CSV.replace(",t1", ",t2"))
    edited = parse_taxonomy(TAXONOMY_CSV.replace("Всё остальное", "Прочее"))
    assert base.content_hash == bumped.content_hash
    assert base.content_hash != edited.content_hash


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("category_code,name_ru\nx,y\n", "missing column"),
        (TAXONOMY_CSV.replace("mobile_app,", "Mobile App,"), "invalid category_code"),
        (TAXONOMY_CSV.replace("mobile_app,", "forms_fields,"), "duplicate"),
        (TAXONOMY_CSV.replace('Всё остальное",вопрос не по теме,t1', 'x",y,t2'), "disagree"),
        (TAXONOMY_CSV.replace("other,", "misc,"), "fallback"),
        (TAXONOMY_CSV.splitlines()[0] + "\n", "no categories"),
    ],
)
def test_rejects_bad_seeds(text: str, message: str) -> None:
    with pytest.raises(TaxonomyError, match=message):
        parse_taxonomy(text)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match="cannot read"):
        load_taxonomy(tmp_path / "nope.csv")


def test_staff_codes_are_normalised() -> None:
    taxonomy = parse_taxonomy(TAXONOMY_CSV)
    assert taxonomy.normalize_code(" Mobile_App ") == "mobile_app"
    assert taxonomy.normalize_code("legacy_code") == "other"
    assert taxonomy.normalize_code("  ") is None
    assert taxonomy.normalize_code(None) is None


@pytest.mark.db
def test_content_change_without_version_bump_is_refused(database_url: str) -> None:
    original = parse_taxonomy(TAXONOMY_CSV.replace(",t1", ",drift-test"))
    edited = parse_taxonomy(
        TAXONOMY_CSV.replace(",t1", ",drift-test").replace("Всё остальное", "Прочее")
    )
    bumped = parse_taxonomy(TAXONOMY_CSV.replace(",t1", ",drift-test-2").replace("Всё", "Все"))
    with connect(database_url, autocommit=True) as conn:
        assert register_taxonomy(conn, original) is True
        assert register_taxonomy(conn, original) is False  # idempotent
        with pytest.raises(TaxonomyDrift, match="without a version bump"):
            register_taxonomy(conn, edited)
        assert register_taxonomy(conn, bumped) is True
        rows = conn.execute(
            "select taxonomy_version, content_hash from kb.taxonomy_versions "
            "where taxonomy_version like 'drift-test%%' order by 1"
        ).fetchall()
    assert rows == [
        ("drift-test", original.content_hash),
        ("drift-test-2", bumped.content_hash),
    ]
