"""`kb taxonomy init` logic: form choices → seed rows with stable codes, SLA kept valid."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from assistant.categorization.taxonomy import TaxonomyError, load_taxonomy, parse_taxonomy
from assistant.categorization.taxonomy_check import CategoryFieldRoles, check_values
from assistant.categorization.taxonomy_init import (
    bump_version,
    form_choices,
    plan_taxonomy,
    render_categories_csv,
    render_sla_policy,
    slug_code,
    write_seeds,
)

CODES, NAMES = ("u_category",), ("Категория",)


def _form(*choices: str, deleted: tuple[str, ...] = (), nested: bool = False) -> dict[str, Any]:
    options = [{"choice_id": i, "choice_value": name} for i, name in enumerate(choices, 1)]
    options += [
        {"choice_id": 100 + i, "choice_value": name, "deleted": True}
        for i, name in enumerate(deleted)
    ]
    category = {
        "id": 3,
        "type": "multiple_choice",
        "name": "Категория",
        "info": {"options": options},
    }
    fields: list[dict[str, Any]] = [{"id": 1, "type": "text", "name": "Тема"}]
    if nested:
        fields.append({"id": 17, "type": "title", "name": "Разбор", "info": {"fields": [category]}})
    else:
        fields.append(category)
    return {"id": 777, "name": "Поддержка", "fields": fields}


def test_slug_code_transliterates_and_is_a_valid_code() -> None:
    assert slug_code("Ошибка в работе") == "oshibka_v_rabote"
    assert slug_code("Вопрос по оплате") == "vopros_po_oplate"
    assert slug_code("1С: интеграция") == "c_1s_integratsiya"
    assert slug_code("Объявления, счёт-фактура") == "obyavleniya_schet_faktura"
    assert slug_code("!!!") == "category"
    long = slug_code("Очень длинное название категории " * 5)
    assert len(long) <= 60
    assert not long.endswith("_")


def test_choices_come_from_the_category_field_without_deleted_ones() -> None:
    form = _form("Ошибка в работе", "Вопрос по оплате", deleted=("Старое",), nested=True)
    names = [c.name for c in form_choices(form, CODES, NAMES)]
    assert names == ["Ошибка в работе", "Вопрос по оплате"]


def test_a_form_without_the_field_names_the_vars_to_set() -> None:
    with pytest.raises(TaxonomyError, match="pyrus_field_names"):
        form_choices({"id": 5, "fields": [{"id": 1, "type": "text", "name": "Тема"}]}, CODES, NAMES)


def test_plan_adds_other_bumps_version_and_keeps_codes_stable() -> None:
    current = load_taxonomy()
    choices = form_choices(
        _form("Ошибка в работе", "Формы и поля", "ошибка в работе"), CODES, NAMES
    )
    plan = plan_taxonomy(choices, current)
    codes = [c.code for c in plan.categories]
    assert codes == ["oshibka_v_rabote", "forms_fields", "other"]  # duplicate name dropped
    assert plan.version == bump_version(current.version) != current.version
    assert "forms_fields" not in plan.added
    assert "oshibka_v_rabote" in plan.added
    assert "catalogs" in plan.removed
    # the existing row keeps its code and texts; a rerun on the result changes nothing
    text = render_categories_csv(plan.categories, plan.version)
    again = plan_taxonomy(choices, parse_taxonomy(text))
    assert not again.changed
    assert again.version == plan.version
    assert [c.code for c in again.categories] == codes


def test_colliding_slugs_get_suffixes() -> None:
    choices = form_choices(_form("Оплата!", "Оплата?", "Other"), CODES, NAMES)
    codes = [c.code for c in plan_taxonomy(choices, None).categories]
    assert codes == ["oplata", "oplata_2", "other_2", "other"]


def test_bump_version() -> None:
    assert bump_version("2026.1") == "2026.2"
    assert bump_version("v9") == "v10"
    assert bump_version("draft") == "draft.1"
    assert bump_version(None) == "1"


def test_sla_policy_drops_removed_codes_and_gets_default_rows() -> None:
    current = (
        "category_code,priority,frt_target_bm,resolution_target_bm\n"
        "forms_fields,Высокий,60,600\n"
        "catalogs,Высокий,90,900\n"
        "other,Высокий,120,1440\n"
        "other,Низкий,480,4320\n"
    )
    rendered = render_sla_policy(current, ["forms_fields", "new_code", "other"])
    rows = list(csv.DictReader(rendered.splitlines()))
    assert {(r["category_code"], r["priority"]) for r in rows} == {
        ("*", "Высокий"),
        ("*", "Низкий"),
        ("forms_fields", "Высокий"),
        ("other", "Высокий"),
        ("other", "Низкий"),
    }
    star = next(r for r in rows if r["category_code"] == "*" and r["priority"] == "Высокий")
    assert (star["frt_target_bm"], star["resolution_target_bm"]) == ("120", "1440")
    # existing `*` rows win over the `other` copy; nothing else is invented
    again = render_sla_policy("category_code,priority,frt_target_bm,resolution_target_bm\n"
                              "*,Обычный,10,20\n", ["a_code", "other"])  # fmt: skip
    assert again.splitlines()[1:] == ["*,Обычный,10,20"]


def test_write_seeds_writes_only_what_changed(tmp_path: Path) -> None:
    seed, sla = tmp_path / "categories.csv", tmp_path / "sla_policy.csv"
    plan = plan_taxonomy(form_choices(_form("Ошибка в работе"), CODES, NAMES), None)
    assert write_seeds(plan, seed, sla) == [seed, sla]
    written = load_taxonomy(seed)
    assert written.codes == ("oshibka_v_rabote", "other")
    assert written.version == "1"
    assert write_seeds(plan, seed, sla) == []


def test_check_counts_unmapped_labels_and_form_choices() -> None:
    taxonomy = load_taxonomy()
    form = _form("Формы и поля", "Ошибка в работе", "Новая категория")
    labels = [("Ошибка в работе", 2, 40), ("Формы и поля", 1, 7), ("прочее", 13, 2), (None, 5, 3)]
    checked = check_values(taxonomy, [form], labels, CategoryFieldRoles(codes=CODES, names=NAMES))
    found = [(u.name, u.source, u.count) for u in checked.unmapped]
    assert found == [("Ошибка в работе", "labels", 40), ("#5", "labels", 3),
                     ("Новая категория", "form", 0)]  # fmt: skip
    assert checked.mapped_label_counts == {"other": 45, "forms_fields": 7}
    assert checked.usable_categories == 1
    warning = checked.warning(taxonomy)
    assert warning is not None
    assert "«Ошибка в работе» (labels: 40)" in warning
    assert "kb taxonomy init" in warning
    explicit = CategoryFieldRoles(codes=CODES, names=NAMES, explicit_choice_codes={5: "catalogs"})
    assert [u.name for u in check_values(taxonomy, [], labels, explicit).unmapped] == [
        "Ошибка в работе"
    ]
