"""The offline classifier: text handling, training, versioning and persistence."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import numpy as np
import pytest

from assistant.categorization.classifier import (
    ClassifierError,
    ClassifierParams,
    TrainedClassifier,
    planned_version,
    train_classifier,
)
from assistant.categorization.features import is_blank, prepare_text
from assistant.categorization.model_store import (
    activate_model,
    count_new_labels,
    load_active_model,
    load_labelled_tickets,
    save_model,
    train_from_marts,
)
from assistant.categorization.taxonomy import parse_taxonomy
from assistant.db import connect
from tests.categorization.categorize_data import TAXONOMY_CSV, create_fct_tickets, labelled_examples


@pytest.fixture(scope="module")
def examples() -> list[tuple[str, str]]:
    return labelled_examples()


@pytest.fixture(scope="module")
def model(examples: list[tuple[str, str]]) -> TrainedClassifier:
    texts, labels = zip(*examples, strict=True)
    return train_classifier(list(texts), list(labels), taxonomy_version="t1")


def test_prepare_text_normalises_and_truncates_at_a_word_boundary() -> None:
    assert prepare_text("  Ёлка\tи  ПОЛЕ https://x.ru/a?b=1 ") == "елка и поле url"
    huge = "слово " * 200_000
    prepared = prepare_text(huge, max_chars=1000)
    assert len(prepared) <= 1000
    assert prepared.endswith("слово")
    assert prepare_text(None) == ""


@pytest.mark.parametrize(
    ("text", "blank"),
    [
        ("", True),
        ("   \n ", True),
        ("IMG_2041.jpg", True),
        ("Вложение: скриншот.png https://disk.example.ru/a", True),
        ("12345", True),
        ("Не работает", False),
        ("Ошибка в форме, скриншот.png", False),
    ],
)
def test_blank_detection(text: str, blank: bool) -> None:
    assert is_blank(text) is blank


def test_trained_model_predicts_calibrated_probabilities(model: TrainedClassifier) -> None:
    assert model.classes == sorted(model.classes)
    probs = model.predict_proba(
        [
            "Приложение на телефоне падает при запуске",
            "Пришлите, пожалуйста, счёт на продление лицензий",
        ]
    )
    assert probs.shape == (2, len(model.classes))
    assert np.allclose(probs.sum(axis=1), 1.0)
    predicted = [model.classes[i] for i in probs.argmax(axis=1)]
    assert predicted == ["mobile_app", "licenses_billing"]


def test_training_reports_cross_validated_metrics(model: TrainedClassifier) -> None:
    metrics = model.metrics
    assert metrics["cv_folds"] == 3
    assert set(metrics["per_class"]) == set(model.classes)
    assert 0.0 <= metrics["macro_f1"] <= 1.0
    assert model.knn_weight in model.params.knn_weights
    assert set(metrics["macro_f1_by_knn_weight"]) == set(model.params.knn_weights)
    assert model.method == ("knn_vote" if model.knn_weight > 0 else "classifier")


def test_version_is_a_hash_of_data_and_params(
    model: TrainedClassifier, examples: list[tuple[str, str]]
) -> None:
    texts, labels = map(list, zip(*examples, strict=True))
    assert planned_version(texts, labels, taxonomy_version="t1") == model.version
    quick = train_classifier(texts, labels, taxonomy_version="t1", evaluate=False)
    assert quick.version != model.version  # no cross-validation → no kNN weight chosen
    again = train_classifier(texts[::-1], labels[::-1], taxonomy_version="t1", evaluate=False)
    assert again.version == quick.version  # order does not matter
    other_params = train_classifier(
        texts, labels, taxonomy_version="t1", evaluate=False, params=ClassifierParams(c=2.0)
    )
    assert other_params.version != quick.version
    fewer = train_classifier(texts[1:], labels[1:], taxonomy_version="t1", evaluate=False)
    assert fewer.version != quick.version


def test_huge_and_empty_texts_do_not_break_prediction(model: TrainedClassifier) -> None:
    probs = model.predict_proba(["почта уведомления " * 100_000, ""])
    assert probs.shape == (2, len(model.classes))
    assert model.classes[int(probs[0].argmax())] == "email_notifications"


def test_training_needs_two_categories() -> None:
    with pytest.raises(ClassifierError, match="at least 2 categories"):
        train_classifier(["не работает почта", "не приходят письма"], ["email", "email"])


def test_blank_tickets_are_left_out_of_training() -> None:
    texts = ["Приложение вылетает", "Нужен счёт на оплату", "IMG_1.png", "Приложение падает"]
    labels = ["mobile_app", "licenses_billing", "licenses_billing", "mobile_app"]
    trained = train_classifier(texts, labels, evaluate=False)
    assert trained.n_train == 3


@pytest.mark.db
def test_persistence_and_one_active_model(database_url: str, model: TrainedClassifier) -> None:
    texts = ["Приложение вылетает", "Нужен счёт на оплату", "Счёт не пришёл", "Приложение падает"]
    labels = ["mobile_app", "licenses_billing", "licenses_billing", "mobile_app"]
    small = train_classifier(texts, labels, taxonomy_version="t1", evaluate=False)
    through = datetime(2026, 3, 1, tzinfo=UTC)
    with connect(database_url, autocommit=True) as conn:
        assert load_active_model(conn) is None
        assert save_model(conn, model, labels_through=through) is True
        assert save_model(conn, model, labels_through=through) is False  # idempotent
        assert save_model(conn, small, labels_through=None) is True
        active = load_active_model(conn)
        assert active is not None
        assert active.model.version == small.version
        activate_model(conn, model.version)
        active = load_active_model(conn)
        assert active is not None
        assert active.model.version == model.version
        assert active.labels_through == through
        assert active.model.predict_proba(["Приложение падает"]).shape[1] == len(model.classes)
        rows = conn.execute(
            "select model_version, is_active, n_train, metrics ? 'per_class', "
            "params ->> 'knn_weight' is not null from kb.classifier_models order by n_train"
        ).fetchall()
        assert rows == [
            (small.version, False, 4, False, True),
            (model.version, True, model.n_train, True, True),
        ]
        with pytest.raises(ClassifierError, match="no classifier model"):
            activate_model(conn, "clf-missing")


@pytest.mark.db
def test_labels_from_marts_map_unknown_codes_to_other(
    empty_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from assistant.migrate import migrate

    migrate(empty_database_url)
    taxonomy = parse_taxonomy(TAXONOMY_CSV)
    with connect(empty_database_url, autocommit=True) as conn:
        conn.execute("drop table if exists marts.fct_tickets")
        with pytest.raises(ClassifierError, match="does not exist"):
            load_labelled_tickets(conn, taxonomy)
        rows = [*labelled_examples(per_phrase=1)]
        rows += [("Вопрос про старую категорию", "legacy_stuff"), ("Без метки", None)]
        create_fct_tickets(conn, rows)
        with caplog.at_level(logging.WARNING, logger="assistant.categorization.model_store"):
            labelled = load_labelled_tickets(conn, taxonomy)
        assert "legacy_stuff" in caplog.text
        assert labelled.unknown_codes == {"legacy_stuff": 1}
        assert len(labelled.labels) == len(rows) - 1
        assert labelled.labels[labelled.texts.index("Вопрос про старую категорию")] == "other"
        assert count_new_labels(conn, None) == len(rows) - 1
        assert count_new_labels(conn, labelled.labels_through) == 0
        stored = train_from_marts(conn, taxonomy)
        assert stored.labels_through == labelled.labels_through
        models_before = conn.execute("select count(*) from kb.classifier_models").fetchone()
        reused = train_from_marts(conn, taxonomy)  # same labels: no second training
        assert reused.model.trained_at == stored.model.trained_at
        assert conn.execute("select count(*) from kb.classifier_models").fetchone() == models_before
        assert load_active_model(conn).model.version == stored.model.version  # type: ignore[union-attr]
        with pytest.raises(ClassifierError, match="at least 1000"):
            train_from_marts(conn, taxonomy, min_labels=1000)


def test_knn_votes_are_the_same_in_small_chunks(
    model: TrainedClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    import assistant.categorization.classifier as classifier

    texts = [text for text, _ in labelled_examples(per_phrase=1, seed=9)[:20]]
    query = model.transform(texts)
    whole = classifier.knn_votes(
        query, model.knn_matrix, model.knn_labels, model.classes, model.params
    )
    monkeypatch.setattr(classifier, "KNN_SIMILARITY_BUDGET", model.knn_matrix.shape[0] * 3)
    chunked = classifier.knn_votes(
        query, model.knn_matrix, model.knn_labels, model.classes, model.params
    )
    assert np.allclose(whole, chunked)
    assert np.allclose(whole.sum(axis=1), 1.0)
