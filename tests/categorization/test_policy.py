"""The categorization policy, `Categorizer.open` and the stored decisions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from assistant.categorization.classifier import ClassifierError, train_classifier
from assistant.categorization.policy import (
    CategorizeConfig,
    Categorizer,
    CategoryDecision,
    record_decision,
    record_decisions,
)
from assistant.categorization.taxonomy import TaxonomyDrift, parse_taxonomy
from assistant.db import connect
from assistant.settings import AssistantSettings
from tests.categorization.categorize_data import (
    TAXONOMY_CSV,
    create_fct_tickets,
    labelled_examples,
    write_taxonomy,
)
from tests.fakes.llm_server import FakeLLM

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def taxonomy_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_taxonomy(tmp_path_factory.mktemp("taxonomy"))


def _config(taxonomy_path: Path, **overrides: object) -> CategorizeConfig:
    return CategorizeConfig(taxonomy_path=taxonomy_path, **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def opened(conn: psycopg.Connection, taxonomy_path: Path) -> Categorizer:
    with pytest.raises(ClassifierError, match="none can be trained"):
        Categorizer.open(conn, AssistantSettings(), config=_config(taxonomy_path))
    create_fct_tickets(conn, labelled_examples())
    return Categorizer.open(conn, AssistantSettings(), config=_config(taxonomy_path))


def test_open_trains_and_activates_a_model_from_marts(
    conn: psycopg.Connection, opened: Categorizer, taxonomy_path: Path
) -> None:
    row = conn.execute(
        "select model_version, taxonomy_version from kb.classifier_models where is_active"
    ).fetchone()
    assert row == (opened.model.version, "t1")
    reopened = Categorizer.open(conn, AssistantSettings(), config=_config(taxonomy_path))
    assert reopened.model.version == opened.model.version
    assert reopened.llm is None


def test_confident_classifier_label(opened: Categorizer) -> None:
    decision = opened.categorize("Мобильное приложение на айфоне вылетает при запуске")
    assert decision.category_code == "mobile_app"
    assert decision.confidence >= opened.threshold
    assert decision.method in {"classifier", "knn_vote"}
    assert not decision.low_confidence
    assert (decision.taxonomy_version, decision.model_version) == ("t1", opened.model.version)


def test_empty_and_attachment_only_tickets(opened: Categorizer) -> None:
    for text in ("", "   ", "IMG_0042.jpg", "Вложение: скан.pdf"):
        decision = opened.categorize(text)
        assert (decision.category_code, decision.method, decision.low_confidence) == (
            "other",
            "empty_text",
            True,
        )


def test_unsure_without_llm_is_flagged(opened: Categorizer) -> None:
    unsure = Categorizer(opened.model, opened.taxonomy, threshold=0.999)
    decision = unsure.categorize("Приложение не присылает уведомления на почту")
    assert decision.method == "classifier_low_confidence"
    assert decision.low_confidence
    assert decision.category_code in opened.taxonomy


def test_unsure_goes_to_llm_and_bad_llm_answers_fall_back(
    opened: Categorizer, conn: psycopg.Connection, taxonomy_path: Path, fake_llm: FakeLLM
) -> None:
    settings = AssistantSettings(llm_base_url=fake_llm.base_url, llm_model="m")
    config = _config(taxonomy_path, threshold=0.999)
    with_llm = Categorizer.open(conn, settings, config=config)
    assert with_llm.llm is not None
    with_llm.llm.chat.client = with_llm.llm.chat.client.with_options(max_retries=0)
    fake_llm.script(
        '{"category_code": "licenses_billing", "confidence": 0.9}',
        "Скорее всего это про лицензии.",
        '{"category_code": "payroll"}',
    )
    text = "Пришлите акт сверки"
    first, second, third = (with_llm.categorize(text) for _ in range(3))
    assert (first.category_code, first.method, first.confidence) == ("licenses_billing", "llm", 0.9)
    assert not first.low_confidence
    for fallback in (second, third):
        assert fallback.method == "classifier_low_confidence"
        assert fallback.category_code in opened.taxonomy
    assert len(fake_llm.requests) == 3
    confident = Categorizer.open(conn, settings, config=_config(taxonomy_path, threshold=0.0))
    assert confident.categorize(text).method in {"classifier", "knn_vote"}
    assert len(fake_llm.requests) == 3  # a confident classifier never asks the LLM


def test_batch_never_calls_the_llm(opened: Categorizer) -> None:
    texts = ["Нужен счёт на оплату лицензий", "", "Письма уходят в спам"]
    decisions = opened.categorize_many(texts)
    assert [d.category_code for d in decisions] == [
        "licenses_billing",
        "other",
        "email_notifications",
    ]


def test_record_decision_upserts(conn: psycopg.Connection, opened: Categorizer) -> None:
    decision = opened.categorize("Нужен счёт на оплату лицензий")
    record_decision(conn, 77, decision)
    record_decision(conn, 77, decision)
    changed = CategoryDecision("other", 0.3, "llm", "t1", decision.model_version, False)
    record_decision(conn, 77, changed)
    rows = conn.execute(
        "select category_code, method, round(confidence::numeric, 2)::float "
        "from kb.ticket_categories where ticket_id = 77"
    ).fetchall()
    assert rows == [("other", "llm", 0.3)]
    # the batch writer keeps an existing (bot) row unless told to overwrite
    assert record_decisions(conn, [(77, decision), (78, decision)]) == 2
    assert conn.execute(
        "select ticket_id, category_code from kb.ticket_categories "
        "where ticket_id in (77, 78) order by 1"
    ).fetchall() == [(77, "other"), (78, "licenses_billing")]
    record_decisions(conn, [(77, decision)], overwrite=True)
    row = conn.execute("select category_code from kb.ticket_categories where ticket_id = 77")
    assert row.fetchone() == ("licenses_billing",)


def test_taxonomy_drift_is_refused_at_open(
    conn: psycopg.Connection, opened: Categorizer, tmp_path: Path
) -> None:
    edited = write_taxonomy(tmp_path, TAXONOMY_CSV.replace("Всё остальное", "Прочее"))
    with pytest.raises(TaxonomyDrift):
        Categorizer.open(conn, AssistantSettings(), config=_config(edited))


def test_model_outside_the_taxonomy_is_refused() -> None:
    model = train_classifier(
        ["Приложение падает", "Зарплата не пришла"], ["mobile_app", "payroll"], evaluate=False
    )
    with pytest.raises(ClassifierError, match="outside taxonomy"):
        Categorizer(model, parse_taxonomy(TAXONOMY_CSV))
