"""A classifier pickled before `assistant/` was split into packages still loads."""

from __future__ import annotations

import gzip
from pathlib import Path

from assistant.categorization.classifier import TrainedClassifier
from assistant.categorization.model_store import _unpickle

OLD_LAYOUT_MODEL = Path(__file__).with_name("fixtures") / "classifier_pre_packages.pkl.gz"


def test_a_model_pickled_by_the_flat_layout_loads_and_predicts() -> None:
    blob = gzip.decompress(OLD_LAYOUT_MODEL.read_bytes())
    assert b"assistant.classifier_text" in blob  # really the old module paths

    model = _unpickle(blob)

    assert isinstance(model, TrainedClassifier)
    probabilities = model.predict_proba(["Не могу войти в Pyrus, пишет неверный пароль"])
    assert probabilities.shape == (1, len(model.classes))
    assert abs(float(probabilities.sum()) - 1.0) < 1e-6
