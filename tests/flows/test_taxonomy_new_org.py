"""A new organization with its own «Категория» choices: warn, then `kb taxonomy init` fixes it.

The sample dataset's form is rewritten so that no category choice matches the shipped
seed (every label would silently become `other`). Against the real Pyrus emulator and
embedded Postgres, with a copy of the dbt project (the repo's seeds stay untouched):
extract → dbt build → categorize completes with a warning naming the values and the
command; `kb taxonomy check` lists them with counts; `kb taxonomy init` writes the seed
from the form; the next dbt build + categorize train on the organization's categories.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from assistant.categorization.policy import CategorizeConfig
from assistant.categorization.taxonomy import load_taxonomy
from assistant.db import connect
from assistant.settings import AssistantSettings
from assistant.sources.http import RetryPolicy
from assistant.sources.pyrus import PyrusClient
from assistant.sources.pyrus_tokens import forget_cached_tokens
from assistant.sources.sync.pyrus import PyrusSync, PyrusSyncOptions
from flows import dbt_runner
from flows.categorize import run_categorize
from flows.cli import app
from sample_data.emulators.dataset import DEFAULT_DATASET_DIR
from sample_data.emulators.sandbox import Sandbox, start_sandbox

pytestmark = [pytest.mark.db, pytest.mark.slow]

RENAMED = {
    "Формы и поля": "Настройка форм",
    "Маршрут и согласования": "Маршруты",
    "Права доступа и роли": "Доступы",
    "Справочники": "Каталоги данных",
    "Интеграции и API": "Интеграция с 1С",
    "Боты и вебхуки": "Боты",
    "Почта и уведомления": "Уведомления",
    "Мобильное приложение": "Мобильная версия",
    "Реестры и отчёты": "Отчёты",
    "Лицензии и оплата": "Вопрос по оплате",
    "SSO, AD и вход": "Вход в систему",
    "Сбои и ошибки": "Ошибка в работе",
    "Прочее": "Другое",
}
EVERY_NTH_TASK = 3


def _rename(value: Any) -> Any:
    """Category choice names replaced wherever the form or a task carries them."""
    if isinstance(value, list):
        return [_rename(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {key: _rename(item) for key, item in value.items()}
    if isinstance(out.get("choice_names"), list):
        out["choice_names"] = [RENAMED.get(name, name) for name in out["choice_names"]]
    if isinstance(out.get("choice_value"), str):
        out["choice_value"] = RENAMED.get(out["choice_value"], out["choice_value"])
    return out


@pytest.fixture(scope="module")
def org_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A third of the sample tickets, on a form whose categories are all unknown."""
    root = tmp_path_factory.mktemp("new_org")
    for name in ("metadata.json", "pyrus_members.json"):
        shutil.copy(DEFAULT_DATASET_DIR / name, root / name)
    (root / "confluence_pages.json").write_text("[]", encoding="utf-8")
    form = json.loads((DEFAULT_DATASET_DIR / "pyrus_form.json").read_text("utf-8"))
    (root / "pyrus_form.json").write_text(json.dumps(_rename(form), ensure_ascii=False), "utf-8")
    lines = (DEFAULT_DATASET_DIR / "pyrus_tasks.jsonl").read_text("utf-8").splitlines()
    kept = [
        json.dumps(_rename(json.loads(line)), ensure_ascii=False)
        for line in lines[::EVERY_NTH_TASK]
    ]
    (root / "pyrus_tasks.jsonl").write_text("\n".join(kept) + "\n", "utf-8")
    return root


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the dbt project, so that `kb taxonomy init` never edits the repo's seeds."""
    target = tmp_path_factory.mktemp("dbt") / "dbt_project"
    shutil.copytree(dbt_runner.PROJECT_DIR, target, ignore=shutil.ignore_patterns("target", "logs"))
    return target


@pytest.fixture
def sandbox(org_dataset: Path) -> Iterator[Sandbox]:
    forget_cached_tokens()
    with start_sandbox(org_dataset) as running:
        yield running


def _extract(sandbox: Sandbox, url: str) -> dict[str, Any]:
    client = PyrusClient(
        sandbox.pyrus_login, sandbox.pyrus_key, auth_url=sandbox.pyrus_auth_url,
        policy=RetryPolicy(max_attempts=3, sleep=lambda seconds: None),
    )  # fmt: skip
    with client, connect(url, autocommit=True) as conn:
        options = PyrusSyncOptions(form_ids=[sandbox.dataset.form_id])
        return PyrusSync(client, conn, options).run()


def _labels(conn: psycopg.Connection) -> dict[str, int]:
    rows = conn.execute(
        "select category_code, count(*) from kb.ticket_categories group by 1"
    ).fetchall()
    return dict(rows)


def test_unknown_categories_warn_then_taxonomy_init_fixes_them(
    sandbox: Sandbox,
    project: Path,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seed = project / "seeds" / "categories.csv"
    monkeypatch.setattr(dbt_runner, "PROJECT_DIR", project)
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KB_CATEGORIZE_TAXONOMY_PATH", str(seed))
    config = CategorizeConfig(taxonomy_path=seed, use_llm=False)
    settings = AssistantSettings()
    work = tmp_path / "dbt"

    loaded = _extract(sandbox, database_url)
    assert loaded["new"] > 300
    dbt_runner.build(database_url, work_dir=work)

    # 1. the shipped seed: every label maps to `other` — a warning, not a failure
    with caplog.at_level(logging.WARNING):
        before = run_categorize(database_url, settings, config)
    assert before["model_version"] is None
    assert "at least 2 categories" in before["training_skipped"]
    assert before["unmapped_category_values"] == len(RENAMED)
    warning = next(r.getMessage() for r in caplog.records if "do not map" in r.getMessage())
    assert "«Настройка форм» (labels: " in warning
    assert "kb taxonomy init" in warning

    runner = CliRunner()
    checked = runner.invoke(app, ["taxonomy", "check"])
    assert checked.exit_code == 1, checked.output
    assert "13 value(s) map to no category" in checked.output
    with connect(database_url, autocommit=True) as conn:
        payment = conn.execute(
            "select count(*) from intermediate.int_ticket_fields_pivoted_to_tickets "
            "where category_choice_name = 'Вопрос по оплате'"
        ).fetchone()
    assert payment is not None
    assert f"Вопрос по оплате  [{payment[0]} ticket(s)]" in checked.output

    # 2. kb taxonomy init reads the form from the Pyrus API and writes both seeds
    result = runner.invoke(app, ["taxonomy", "init"])
    assert result.exit_code == 0, result.output
    assert "13 choice(s) from 1 form(s) via the Pyrus API" in result.output
    taxonomy = load_taxonomy(seed)
    assert taxonomy.version == "2026.2"
    assert "vopros_po_oplate" in taxonomy.codes
    assert "other" in taxonomy.codes
    assert len(taxonomy.codes) == 14
    sla = (project / "seeds" / "sla_policy.csv").read_text("utf-8")
    assert "\n*,Высокий," in sla
    assert "forms_fields" not in sla
    rerun = runner.invoke(app, ["taxonomy", "init"])
    assert "(unchanged)" in rerun.output
    assert load_taxonomy(seed).version == "2026.2"

    # 3. the next transform + categorize pass and use the organization's categories
    dbt_runner.build(database_url, work_dir=work)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        after = run_categorize(database_url, settings, config)
    assert after["unmapped_category_values"] == 0
    assert after["retrained"] is True
    assert after["labelled"] == after["tickets_total"] == loaded["new"]
    assert after["staff_model_agreement"] > 0.5
    assert not [r for r in caplog.records if "do not map" in r.getMessage()]
    with connect(database_url, autocommit=True) as conn:
        labels = _labels(conn)
        breached = conn.execute(
            "select count(*) filter (where frt_sla_target_bm is not null), count(*) "
            "from intermediate.int_ticket_effect_metrics"
        ).fetchone()
    assert set(labels) <= set(taxonomy.codes)
    assert len(labels) >= 5
    assert breached is not None
    assert breached[0] > 0  # the `*` SLA rows apply to the new categories
    assert runner.invoke(app, ["taxonomy", "check"]).exit_code == 0
