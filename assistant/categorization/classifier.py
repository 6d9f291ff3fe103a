"""The offline ticket classifier: TF-IDF (stemmed words + char n-grams) → calibrated linear model.

It runs without any network, so a category is available the moment a ticket arrives.
Optionally the calibrated probabilities are blended with a vote of the most similar
labelled tickets (kNN over the same TF-IDF space); the blend weight is chosen by
cross-validated macro-F1 at training time, so the vote is only used when it helps.
Persistence (the `kb.classifier_models` table) lives in `assistant.categorization.model_store`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from assistant.categorization.features import is_blank, prepare_text, stem_analyzer
from assistant.categorization.predictor import ClassifierError

logger = logging.getLogger(__name__)

KNN_SIMILARITY_BUDGET = 4_000_000  # dense similarities per kNN chunk (~32 MB of float64)


@dataclass(frozen=True)
class ClassifierParams:
    """Everything that shapes a model; part of its version hash."""

    max_chars: int = 20_000
    char_ngram_min: int = 2
    char_ngram_max: int = 5
    max_word_features: int = 200_000
    max_char_features: int = 300_000
    c: float = 0.5
    knn_k: int = 10
    knn_weights: tuple[float, ...] = (0.0, 0.25, 0.5)
    cv_folds: int = 3
    random_state: int = 13


def _features(params: ClassifierParams) -> FeatureUnion:
    return FeatureUnion(
        [
            (
                "word",
                TfidfVectorizer(
                    analyzer=stem_analyzer,
                    sublinear_tf=True,
                    max_features=params.max_word_features,
                ),
            ),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(params.char_ngram_min, params.char_ngram_max),
                    sublinear_tf=True,
                    min_df=1,
                    max_features=params.max_char_features,
                ),
            ),
        ]
    )


def _estimator(labels: list[str], params: ClassifierParams) -> Any:
    """Calibrated LinearSVC when every class has ≥ 3 examples, else logistic regression."""
    counts = np.unique(labels, return_counts=True)[1]
    if counts.min() >= 3:
        svc = LinearSVC(C=params.c, class_weight="balanced", random_state=params.random_state)
        return CalibratedClassifierCV(svc, method="sigmoid", cv=3)
    return LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000)


@dataclass
class TrainedClassifier:
    """A fitted model with the metadata needed to version, persist and explain it."""

    features: FeatureUnion
    estimator: Any
    classes: list[str]
    params: ClassifierParams
    knn_matrix: Any  # normalised TF-IDF rows of the training tickets
    knn_labels: np.ndarray
    knn_weight: float
    version: str
    training_data_hash: str
    taxonomy_version: str
    trained_at: datetime
    n_train: int
    metrics: dict[str, Any] = field(default_factory=dict)

    def transform(self, texts: list[str]) -> Any:
        return self.features.transform([prepare_text(t, self.params.max_chars) for t in texts])

    def predict_proba(self, texts: list[str], *, use_knn: bool = True) -> np.ndarray:
        """Class probabilities (columns follow `classes`), kNN-blended when that helped."""
        matrix = self.transform(texts)
        probs = _aligned_proba(self.estimator, matrix, self.classes)
        if use_knn and self.knn_weight > 0:
            votes = knn_votes(matrix, self.knn_matrix, self.knn_labels, self.classes, self.params)
            probs = (1 - self.knn_weight) * probs + self.knn_weight * votes
        return probs

    @property
    def method(self) -> str:
        return "knn_vote" if self.knn_weight > 0 else "classifier"


def _aligned_proba(estimator: Any, matrix: Any, classes: list[str]) -> np.ndarray:
    """predict_proba with columns in `classes` order (a fold may miss a class)."""
    raw = estimator.predict_proba(matrix)
    out = np.zeros((matrix.shape[0], len(classes)))
    index = {code: i for i, code in enumerate(classes)}
    for j, code in enumerate(estimator.classes_):
        out[:, index[code]] = raw[:, j]
    return out


def knn_votes(
    query: Any, train: Any, train_labels: np.ndarray, classes: list[str], params: ClassifierParams
) -> np.ndarray:
    """Similarity-weighted label shares among the k nearest labelled tickets."""
    query = normalize(query)
    k = min(params.knn_k, train.shape[0])
    votes = np.zeros((query.shape[0], len(classes)))
    index = {code: i for i, code in enumerate(classes)}
    label_idx = np.array([index[label] for label in train_labels])
    step = max(1, min(256, KNN_SIMILARITY_BUDGET // max(train.shape[0], 1)))
    for start in range(0, query.shape[0], step):
        sims = (query[start : start + step] @ train.T).toarray()
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        for row, neighbours in enumerate(top):
            weights = np.clip(sims[row, neighbours], 0, None) ** 2
            np.add.at(votes[start + row], label_idx[neighbours], weights)
    totals = votes.sum(axis=1, keepdims=True)
    uniform = np.full_like(votes, 1.0 / len(classes))
    return np.where(totals > 0, votes / np.where(totals > 0, totals, 1), uniform)


def training_data_hash(texts: list[str], labels: list[str]) -> str:
    """Order-independent hash of (text, label) pairs."""
    digest = hashlib.sha256()
    for pair in sorted(
        hashlib.sha256(f"{label}\x1f{text}".encode()).hexdigest()
        for text, label in zip(texts, labels, strict=True)
    ):
        digest.update(pair.encode())
    return digest.hexdigest()


def model_version(
    data_hash: str, params: ClassifierParams, taxonomy_version: str, evaluate: bool = True
) -> str:
    """Same data + params + taxonomy → same version, so retraining is idempotent."""
    blob = json.dumps(
        {
            "data": data_hash,
            "params": asdict(params),
            "taxonomy": taxonomy_version,
            "cross_validated": evaluate,  # decides the kNN weight, so part of the model
        },
        sort_keys=True,
    )
    return "clf-" + hashlib.sha256(blob.encode()).hexdigest()[:16]


def _fit(texts: list[str], labels: list[str], params: ClassifierParams) -> tuple[Any, Any, Any]:
    features = _features(params)
    matrix = features.fit_transform(texts)
    for _, vectorizer in features.transformer_list:
        # terms cut by max_features: kept only for introspection, and they bloat the pickle
        if hasattr(vectorizer, "stop_words_"):
            del vectorizer.stop_words_
    estimator = _estimator(labels, params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        estimator.fit(matrix, labels)
    return features, estimator, matrix


def _cross_validate(
    texts: list[str], labels: list[str], classes: list[str], params: ClassifierParams
) -> dict[str, Any]:
    """Out-of-fold metrics for each candidate kNN weight; picks the best weight."""
    y = np.array(labels)
    counts = np.unique(y, return_counts=True)[1]
    folds = min(params.cv_folds, int(counts.max()))
    if len(texts) < 30 or folds < 2:
        return {"cv_folds": 0, "knn_weight": 0.0}
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=params.random_state)
    base = np.zeros((len(texts), len(classes)))
    votes = np.zeros_like(base)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        for train_idx, test_idx in splitter.split(texts, y):
            fold_texts = [texts[i] for i in train_idx]
            features, estimator, matrix = _fit(fold_texts, list(y[train_idx]), params)
            test_matrix = features.transform([texts[i] for i in test_idx])
            base[test_idx] = _aligned_proba(estimator, test_matrix, classes)
            votes[test_idx] = knn_votes(
                test_matrix, normalize(matrix), y[train_idx], classes, params
            )
    scores = {}
    for weight in params.knn_weights:
        predicted = np.array(classes)[((1 - weight) * base + weight * votes).argmax(axis=1)]
        scores[weight] = f1_score(y, predicted, average="macro", zero_division=0)
    best = max(params.knn_weights, key=lambda w: (round(scores[w], 4), -w))
    blended = (1 - best) * base + best * votes
    predicted = np.array(classes)[blended.argmax(axis=1)]
    return {"cv_folds": folds, "knn_weight": best, "macro_f1_by_knn_weight": scores} | (
        classification_metrics(list(y), list(predicted), classes)
    )


def classification_metrics(
    truth: list[str], predicted: list[str], classes: list[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-class precision/recall/F1/support."""
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=classes, zero_division=0
    )
    present = [c for c, s in zip(classes, support, strict=True) if s > 0]
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(
            f1_score(truth, predicted, labels=present, average="macro", zero_division=0)
        ),
        "per_class": {
            code: {
                "precision": float(p),
                "recall": float(r),
                "f1": float(f),
                "support": int(s),
            }
            for code, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
        },
    }


def _training_pairs(
    texts: list[str], labels: list[str], params: ClassifierParams
) -> tuple[list[str], list[str]]:
    """Prepared texts and labels, without unlabelled or unreadable tickets."""
    if len(texts) != len(labels):
        raise ClassifierError("texts and labels differ in length")
    pairs = [
        (prepare_text(t, params.max_chars), label)
        for t, label in zip(texts, labels, strict=True)
        if label and not is_blank(t)
    ]
    return [text for text, _ in pairs], [label for _, label in pairs]


def planned_version(
    texts: list[str],
    labels: list[str],
    *,
    params: ClassifierParams | None = None,
    taxonomy_version: str = "",
    evaluate: bool = True,
) -> str:
    """The version `train_classifier` would give these inputs, without training."""
    params = params or ClassifierParams()
    prepared, y = _training_pairs(texts, labels, params)
    return model_version(training_data_hash(prepared, y), params, taxonomy_version, evaluate)


def train_classifier(
    texts: list[str],
    labels: list[str],
    *,
    params: ClassifierParams | None = None,
    taxonomy_version: str = "",
    evaluate: bool = True,
) -> TrainedClassifier:
    """Fit the model; with `evaluate`, cross-validate to get metrics and the kNN weight."""
    params = params or ClassifierParams()
    prepared, y = _training_pairs(texts, labels, params)
    classes = sorted(set(y))
    if len(y) < 2 or len(classes) < 2:
        raise ClassifierError(
            f"need labelled tickets of at least 2 categories to train; got {len(y)} "
            f"usable ticket(s) in {len(classes)} categor(ies)"
        )
    data_hash = training_data_hash(prepared, y)
    metrics = _cross_validate(prepared, y, classes, params) if evaluate else {"cv_folds": 0}
    knn_weight = float(metrics.get("knn_weight", 0.0))
    features, estimator, matrix = _fit(prepared, y, params)
    logger.info(
        "trained classifier on %d tickets, %d classes, knn weight %.2f, cv macro-F1 %s",
        len(y),
        len(classes),
        knn_weight,
        metrics.get("macro_f1", "n/a"),
    )
    return TrainedClassifier(
        features=features,
        estimator=estimator,
        classes=classes,
        params=params,
        knn_matrix=sparse.csr_matrix(normalize(matrix), dtype=np.float32),
        knn_labels=np.array(y),
        knn_weight=knn_weight,
        version=model_version(data_hash, params, taxonomy_version, evaluate),
        training_data_hash=data_hash,
        taxonomy_version=taxonomy_version,
        trained_at=datetime.now(UTC),
        n_train=len(y),
        metrics=metrics | {"n_train": len(y)},
    )
