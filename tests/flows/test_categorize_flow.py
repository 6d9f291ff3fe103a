"""The `categorize` flow body: retrain policy, one model version for all tickets, agreement."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from assistant.categorization.policy import CategorizeConfig
from assistant.categorization.taxonomy import TaxonomyDrift
from assistant.db import connect
from assistant.settings import AssistantSettings
from flows.categorize import run_categorize
from tests.categorization.categorize_data import (
    TAXONOMY_CSV,
    create_fct_tickets,
    labelled_examples,
    write_taxonomy,
)

pytestmark = pytest.mark.db

SETTINGS = AssistantSettings()


@pytest.fixture(scope="module")
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> CategorizeConfig:
    path = write_taxonomy(tmp_path_factory.mktemp("taxonomy"))
    return CategorizeConfig(taxonomy_path=path, retrain_min_new_labels=20)


def _versions(conn: psycopg.Connection) -> dict[str, int]:
    rows = conn.execute(
        "select model_version, count(*) from kb.ticket_categories group by 1"
    ).fetchall()
    return dict(rows)


def _agreement_by_hand(conn: psycopg.Connection, version: str) -> float:
    rows = conn.execute(
        "select t.staff_category_code, c.category_code from marts.fct_tickets t "
        "join kb.ticket_categories c using (ticket_id) "
        "where c.model_version = %s and t.staff_category_code is not null",
        (version,),
    ).fetchall()
    known = {"forms_fields", "access_roles", "email_notifications", "mobile_app"}
    known |= {"licenses_billing", "other"}
    hits = sum((staff if staff in known else "other") == model for staff, model in rows)
    return round(hits / len(rows), 4)


def test_flow_lifecycle(
    database_url: str, conn: psycopg.Connection, config: CategorizeConfig
) -> None:
    labelled = labelled_examples(per_phrase=2, seed=1)
    unlabelled = [(text, None) for text, _ in labelled_examples(per_phrase=1, seed=2)[:12]]
    create_fct_tickets(conn, labelled + unlabelled + [("", None), ("Старая тема", "legacy")])
    total = len(labelled) + len(unlabelled) + 2

    first = run_categorize(database_url, SETTINGS, config)
    assert first["retrained"] is True
    assert first["retrain_reason"] == "no active model"
    assert first["labelled"] == first["tickets_total"] == total
    assert first["staff_labelled_compared"] == len(labelled) + 1
    assert first["staff_model_agreement"] == _agreement_by_hand(conn, first["model_version"])
    assert first["staff_model_agreement"] > 0.5
    assert first["staff_labelled_after_training"] == 0
    assert first["staff_model_agreement_after_training"] is None
    v1 = first["model_version"]

    again = run_categorize(database_url, SETTINGS, config)  # idempotent
    assert (again["retrained"], again["labelled"], again["model_version"]) == (False, 0, v1)

    # a few new labelled tickets: no retrain, only the new tickets get labelled
    later = datetime(2026, 6, 1, tzinfo=UTC)
    fresh = labelled_examples(per_phrase=1, seed=3)
    create_fct_tickets(conn, fresh[:10], start_id=5000, start_at=later)
    few = run_categorize(database_url, SETTINGS, config)
    assert (few["retrained"], few["new_labels"], few["labelled"]) == (False, 10, 10)
    assert few["staff_labelled_after_training"] == 10
    hits = conn.execute(
        "select count(*) from marts.fct_tickets t join kb.ticket_categories c using (ticket_id) "
        "where t.ticket_id >= 5000 and c.model_version = %s "
        "and c.category_code = t.staff_category_code",
        (v1,),
    ).fetchone()[0]
    assert few["staff_model_agreement_after_training"] == round(hits / 10, 4)

    # enough new labels: a new version, and every ticket is relabelled with it
    create_fct_tickets(conn, fresh[10:25], start_id=6000, start_at=later)
    retrained = run_categorize(database_url, SETTINGS, config)
    v2 = retrained["model_version"]
    assert retrained["retrained"] is True
    assert retrained["retrain_reason"] == "25 new labels"
    assert v2 != v1
    assert retrained["labelled"] == total + 25
    assert _versions(conn) == {v1: total + 10, v2: total + 25}
    current = conn.execute(
        "select count(*), count(distinct model_version), min(model_version) "
        "from kb.ticket_categories_current"
    ).fetchone()
    assert current == (total + 25, 1, v2)

    # full: same data → same version, every row of that version recomputed in place
    full = run_categorize(database_url, SETTINGS, config, full=True)
    assert (full["retrained"], full["model_version"], full["labelled"]) == (False, v2, total + 25)
    assert _versions(conn)[v2] == total + 25

    empty = conn.execute(
        "select category_code, method, low_confidence from kb.ticket_categories_current "
        "join marts.fct_tickets using (ticket_id) where coalesce(subject, '') = ''"
    ).fetchall()
    assert empty == [("other", "empty_text", True)]


def test_taxonomy_drift_stops_the_flow(
    database_url: str, config: CategorizeConfig, tmp_path: Path
) -> None:
    edited = write_taxonomy(tmp_path, TAXONOMY_CSV.replace("Всё остальное", "Прочие вопросы"))
    with pytest.raises(TaxonomyDrift, match="bump taxonomy_version"):
        run_categorize(database_url, SETTINGS, config.model_copy(update={"taxonomy_path": edited}))


@pytest.mark.slow
@pytest.mark.prefect
def test_stage_run_runs_the_prefect_flow(
    kb_env: str, config: CategorizeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.runtime import Runtime
    from flows.stages import stage_runner

    monkeypatch.setenv("KB_CATEGORIZE_TAXONOMY_PATH", str(config.taxonomy_path))
    with connect(kb_env, autocommit=True) as conn:
        create_fct_tickets(conn, labelled_examples(per_phrase=1, seed=4), start_id=9000)
    summary = stage_runner("categorize")(Runtime.from_environment())
    assert summary["labelled"] >= 48
    assert summary["taxonomy_version"] == "t1"
    assert summary["staff_model_agreement"] is not None


class _State:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def result(self, raise_on_failure: bool = True) -> BaseException:
        return self.error


def test_only_connection_failures_are_retried() -> None:
    from assistant.errors import DatabaseError
    from flows.categorize import TRANSIENT
    from flows.steps import retry_condition

    _transient = retry_condition(TRANSIENT)

    assert _transient(None, None, _State(psycopg.OperationalError("server closed")))
    assert _transient(None, None, _State(DatabaseError("cannot connect")))
    assert not _transient(None, None, _State(TaxonomyDrift("bump the version")))
    assert not _transient(None, None, _State(ValueError("bad")))
