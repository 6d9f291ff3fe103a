"""The compact (numpy-only) classifier predicts what the scikit-learn model predicts."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from assistant.categorization.classifier import (
    ClassifierParams,
    TrainedClassifier,
    train_classifier,
)
from assistant.categorization.model_store import load_active_predictor, save_model
from assistant.categorization.predictor import CompactClassifier, compact_from_trained
from assistant.db import connect
from tests.categorization.categorize_data import PHRASES, labelled_examples

# texts the model never saw: paraphrases, noise, an unknown vocabulary, an empty string
PROBES = [
    "Здравствуйте! Не приходят уведомления на почту о новых заявках уже третий день",
    "Коллеге нужна роль администратора, он не видит реестр отдела",
    "Приложение на айфоне закрывается сразу после запуска, push тоже не приходят",
    "Пришлите, пожалуйста, счёт на продление лицензий на 40 пользователей",
    "Поле «Сумма» в таблице формы не сохраняется, шаблон ругается",
    "qwerty zxcv 12345",
    "",
    "Ёжик В ТУМАНЕ https://example.org/a?b=1 ... !!!",
]


def _train(examples: list[tuple[str, str]], **params: object) -> TrainedClassifier:
    texts, labels = zip(*examples, strict=True)
    return train_classifier(
        list(texts),
        list(labels),
        taxonomy_version="t1",
        params=ClassifierParams(**params),  # type: ignore[arg-type]
    )


def _two_categories() -> list[tuple[str, str]]:
    return [(t, c) for t, c in labelled_examples() if c in ("mobile_app", "licenses_billing")]


def _few_per_class() -> list[tuple[str, str]]:
    """Two examples of one class: too few for the calibrated SVC, so logistic regression."""
    rows = [(t, c) for t, c in labelled_examples() if c != "other"]
    return [*rows, (PHRASES["other"][0], "other"), (PHRASES["other"][1], "other")]


@pytest.mark.parametrize(
    ("examples", "params", "estimator"),
    [
        (labelled_examples, {}, "CalibratedClassifierCV"),
        (labelled_examples, {"knn_weights": (0.5,)}, "CalibratedClassifierCV"),
        (_two_categories, {"knn_weights": (0.25,)}, "CalibratedClassifierCV"),
        (_few_per_class, {"knn_weights": (0.25,)}, "LogisticRegression"),
    ],
    ids=["multiclass", "multiclass-knn", "binary-knn", "logistic-knn"],
)
def test_compact_probabilities_equal_the_model(
    examples: object, params: dict[str, object], estimator: str
) -> None:
    model = _train(examples(), **params)  # type: ignore[operator]
    assert type(model.estimator).__name__ == estimator
    compact = compact_from_trained(model)
    assert compact is not None
    texts = PROBES + [text for text, _ in examples()[:20]]  # type: ignore[operator]

    for use_knn in (True, False):
        expected = model.predict_proba(texts, use_knn=use_knn)
        got = compact.predict_proba(texts, use_knn=use_knn)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert (compact.classes, compact.version, compact.method) == (
        model.classes,
        model.version,
        model.method,
    )
    if "knn_weights" in params:
        assert compact.knn_weight > 0  # the kNN blend really took part


def test_the_compact_form_survives_pickling() -> None:
    model = _train(labelled_examples())
    compact = compact_from_trained(model)
    restored = pickle.loads(pickle.dumps(compact))
    np.testing.assert_array_equal(restored.predict_proba(PROBES), compact.predict_proba(PROBES))


@pytest.mark.db
def test_active_predictor_is_compact_and_made_for_old_rows(database_url: str) -> None:
    with connect(database_url, autocommit=True) as conn:
        model = _train(labelled_examples())
        save_model(conn, model, labels_through=None)
        stored = load_active_predictor(conn)
        assert stored is not None
        assert isinstance(stored.model, CompactClassifier)

        # a row saved before the column existed: the first load makes and stores the form
        conn.execute("update kb.classifier_models set predictor = null")
        remade = load_active_predictor(conn)
        assert remade is not None
        assert isinstance(remade.model, CompactClassifier)
        row = conn.execute(
            "select predictor is not null from kb.classifier_models where model_version = %s",
            (model.version,),
        ).fetchone()
        assert row == (True,)
        np.testing.assert_allclose(
            remade.model.predict_proba(PROBES), model.predict_proba(PROBES), rtol=1e-9, atol=1e-12
        )
