"""Offline evaluation of the classifier on a labelled JSONL file (`kb eval categorize`).

Input lines are `{"id", "text", "label", "split"}`; the model is trained on
`split=train` and scored on `split=test`. A file without those splits gets a
deterministic 80/20 split by id hash, so any labelled file can be evaluated.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix

from assistant.categorization.classifier import (
    ClassifierParams,
    classification_metrics,
    train_classifier,
)
from assistant.categorization.features import is_blank
from assistant.email_text import latest_message
from assistant.errors import KbError
from assistant.jsonl import json_objects

logger = logging.getLogger(__name__)


class EvalDataError(KbError):
    """The labelled file cannot be read or has no usable train/test data."""


@dataclass(frozen=True)
class LabelledRecord:
    id: str
    text: str
    label: str
    split: str


def read_labelled_jsonl(path: Path) -> list[LabelledRecord]:
    """Parse the file; a bad line is an error naming the line, nothing is skipped silently."""
    records = []
    for number, item in json_objects(path, EvalDataError):
        if not isinstance(item.get("label"), str):
            raise EvalDataError(f"{path}:{number}: expected an object with a string 'label'")
        text = item.get("text")
        if text is not None and not isinstance(text, str):
            raise EvalDataError(f"{path}:{number}: 'text' must be a string")
        records.append(
            LabelledRecord(
                id=str(item.get("id", number)),
                # read as training and the bot read a ticket: its newest message
                text=latest_message(text or ""),
                label=item["label"].strip(),
                split=str(item.get("split") or "").strip().lower(),
            )
        )
    if not records:
        raise EvalDataError(f"{path}: no records")
    return records


def split_records(
    records: list[LabelledRecord],
) -> tuple[list[LabelledRecord], list[LabelledRecord], str]:
    """(train, test, how): the file's own splits, else a stable 80/20 hash split."""
    train = [r for r in records if r.split == "train"]
    test = [r for r in records if r.split == "test"]
    if train and test:
        return train, test, "file"
    train, test = [], []
    for record in records:
        bucket = int(hashlib.sha256(record.id.encode()).hexdigest(), 16) % 5
        (test if bucket == 0 else train).append(record)
    if not train or not test:
        raise EvalDataError("need records for both training and testing")
    return train, test, "hash-80/20"


@dataclass
class EvalReport:
    """What `kb eval categorize` prints."""

    n_train: int
    n_test: int
    split: str
    model_version: str
    knn_weight: float
    accuracy: float
    macro_f1: float
    per_class: dict[str, dict[str, float]]
    classifier_only: dict[str, float]
    threshold: float
    low_confidence_share: float
    accuracy_when_confident: float | None
    calibration_error: float
    labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def evaluate(
    records: list[LabelledRecord],
    *,
    params: ClassifierParams | None = None,
    threshold: float = 0.55,
) -> EvalReport:
    """Train on the train split, score the default offline policy on the test split."""
    train, test, how = split_records(records)
    model = train_classifier(
        [r.text for r in train], [r.label for r in train], params=params, evaluate=True
    )
    unknown_test = sorted({r.label for r in test} - set(model.classes))
    if unknown_test:
        logger.warning("test labels never seen in training: %s", ", ".join(unknown_test))
    labels = sorted(set(model.classes) | {r.label for r in test})
    truth = [r.label for r in test]
    texts = [r.text for r in test]
    probs = model.predict_proba(texts)
    blank = np.array([is_blank(t) for t in texts])

    def decide(matrix: np.ndarray) -> list[str]:
        # the policy's rule for unreadable tickets, when the file knows `other`
        return [
            "other" if blank[i] and "other" in labels else model.classes[int(row.argmax())]
            for i, row in enumerate(matrix)
        ]

    predicted = decide(probs)
    base_pred = decide(model.predict_proba(texts, use_knn=False))
    scores = classification_metrics(truth, predicted, labels)
    base_scores = classification_metrics(truth, base_pred, labels)
    confident = probs.max(axis=1) >= threshold
    hits = np.array([p == t for p, t in zip(predicted, truth, strict=True)])
    return EvalReport(
        n_train=model.n_train,
        n_test=len(test),
        split=how,
        model_version=model.version,
        knn_weight=model.knn_weight,
        accuracy=scores["accuracy"],
        macro_f1=scores["macro_f1"],
        per_class=scores["per_class"],
        classifier_only={k: base_scores[k] for k in ("accuracy", "macro_f1")},
        threshold=threshold,
        low_confidence_share=float(1 - confident.mean()),
        accuracy_when_confident=float(hits[confident].mean()) if confident.any() else None,
        calibration_error=expected_calibration_error(probs.max(axis=1), hits),
        labels=labels,
        confusion=confusion_matrix(truth, predicted, labels=labels).tolist(),
    )


def expected_calibration_error(confidence: np.ndarray, hits: np.ndarray, bins: int = 10) -> float:
    """Mean |accuracy − confidence| over equal-width confidence bins, weighted by size.

    Small means the threshold on "calibrated probability" means what it says.
    """
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(hits[members].mean() - confidence[members].mean())
    return float(error)


def write_confusion_png(report: EvalReport, path: Path) -> Path:
    """Row-normalised confusion matrix as a PNG (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.array(report.confusion, dtype=float)
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    size = max(6.0, 0.55 * len(report.labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(report.labels)), report.labels, rotation=60, ha="right")
    ax.set_yticks(range(len(report.labels)), report.labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f}")
    for (i, j), value in np.ndenumerate(counts):
        if value:
            color = "white" if shares[i, j] > 0.5 else "black"
            ax.text(j, i, int(value), ha="center", va="center", fontsize=8, color=color)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def format_report(report: EvalReport) -> str:
    """A plain-text table for the terminal."""
    lines = [
        f"train {report.n_train}, test {report.n_test} (split: {report.split}), "
        f"model {report.model_version}, kNN weight {report.knn_weight:.2f}",
        f"accuracy {report.accuracy:.3f}   macro-F1 {report.macro_f1:.3f}   "
        f"(classifier alone: accuracy {report.classifier_only['accuracy']:.3f}, "
        f"macro-F1 {report.classifier_only['macro_f1']:.3f})",
        f"below threshold {report.threshold:.2f}: {report.low_confidence_share:.1%} of tickets"
        + (
            f"; accuracy on the rest {report.accuracy_when_confident:.3f}"
            if report.accuracy_when_confident is not None
            else ""
        )
        + f"; calibration error (ECE) {report.calibration_error:.3f}",
        "",
        f"{'category':<24}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}",
    ]
    for code, m in report.per_class.items():
        lines.append(
            f"{code:<24}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>10.3f}"
            f"{int(m['support']):>9}"
        )
    return "\n".join(lines)
