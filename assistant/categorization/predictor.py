"""The fitted ticket classifier in plain numpy arrays, for answering one ticket fast.

Why: unpickling the scikit-learn model imports scikit-learn and SciPy, about 2 s of
CPU before `kb ask` or a bot worker has categorized anything; training needs them,
predicting does not. `CompactClassifier` holds what prediction reads — the two TF-IDF
vocabularies with their idf, each calibrated linear model's coefficients and sigmoid
parameters, the kNN rows — and repeats scikit-learn's arithmetic step by step, so its
probabilities equal the model's (to float rounding; `tests/categorization/
test_predictor.py` compares the two). `compact_from_trained` converts a fitted model;
it returns None for a shape it does not know, and the caller keeps the full model.

This module imports numpy and the classifier's text functions only.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from assistant.categorization.features import prepare_text, stem_analyzer
from assistant.errors import KbError

logger = logging.getLogger(__name__)


class ClassifierError(KbError):
    """Training is impossible (too few labels, one class) or a model cannot be used."""


class Predictor(Protocol):
    """What the categorization policy needs of a model: the full one or the compact one."""

    classes: list[str]
    version: str
    taxonomy_version: str

    @property
    def method(self) -> str: ...

    def predict_proba(self, texts: list[str], *, use_knn: bool = True) -> np.ndarray: ...


@dataclass(frozen=True)
class TfidfPart:
    """One fitted TfidfVectorizer of the feature union: `word` (stems) or `char_wb`."""

    analyzer: str  # "stems" | "char_wb"
    vocabulary: dict[str, int]
    idf: np.ndarray
    ngram_range: tuple[int, int]
    offset: int  # its first column in the union

    def terms(self, text: str) -> list[str]:
        if self.analyzer == "stems":
            return stem_analyzer(text)
        return char_wb_ngrams(text.lower(), *self.ngram_range)

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(columns, values): sublinear tf × idf, L2-normalised, as TfidfVectorizer does."""
        counts = Counter(
            self.vocabulary[term] for term in self.terms(text) if term in self.vocabulary
        )
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        columns = np.fromiter(sorted(counts), dtype=np.int64, count=len(counts))
        values = np.log(np.array([counts[c] for c in columns], dtype=np.float64)) + 1.0
        values *= self.idf[columns]
        norm = np.sqrt(np.dot(values, values))
        if norm > 0:
            values /= norm
        return columns + self.offset, values


def char_wb_ngrams(text: str, min_n: int, max_n: int) -> list[str]:
    """scikit-learn's `char_wb` analyzer: n-grams inside space-padded words."""
    ngrams: list[str] = []
    for word in text.split():
        padded = f" {word} "
        length = len(padded)
        for n in range(min_n, max_n + 1):
            offset = 0
            ngrams.append(padded[offset : offset + n])
            while offset + n < length:
                offset += 1
                ngrams.append(padded[offset : offset + n])
            if offset == 0:  # a short word counts once
                break
    return ngrams


@dataclass(frozen=True)
class SigmoidLinear:
    """One calibrated linear model: decision = x·coef + intercept, p = σ(−(a·d + b))."""

    coef: np.ndarray  # (features, outputs)
    intercept: np.ndarray  # (outputs,)
    a: np.ndarray  # (outputs,)
    b: np.ndarray
    class_index: np.ndarray  # output j → column in the calibrated classes
    n_classes: int

    def proba(self, decision: np.ndarray) -> np.ndarray:
        out = np.zeros((decision.shape[0], self.n_classes))
        for j, column in enumerate(self.class_index):
            out[:, column] = _expit(-(self.a[j] * decision[:, j] + self.b[j]))
        if self.n_classes == 2:
            out[:, 0] = 1.0 - out[:, 1]
        else:
            total = out.sum(axis=1)[:, np.newaxis]
            out = np.divide(out, total, out=np.full_like(out, 1 / self.n_classes), where=total != 0)
        out[(out > 1.0) & (out <= 1.0 + 1e-5)] = 1.0
        return out


@dataclass(frozen=True)
class CompactClassifier:
    """`TrainedClassifier.predict_proba` without scikit-learn (see the module docstring)."""

    classes: list[str]
    version: str
    taxonomy_version: str
    knn_weight: float
    knn_k: int
    max_chars: int
    parts: tuple[TfidfPart, ...]
    kind: str  # "calibrated" (sigmoid-calibrated LinearSVCs) | "logistic"
    linear: tuple[SigmoidLinear, ...]  # calibrated: one per CV fold; logistic: one, a/b unused
    estimator_columns: np.ndarray  # estimator class j → column in `classes`
    knn_indptr: np.ndarray  # the kNN rows by feature (CSC): feature f → training rows
    knn_rows: np.ndarray
    knn_values: np.ndarray
    knn_labels: np.ndarray  # training row → column in `classes`

    @property
    def method(self) -> str:
        return "knn_vote" if self.knn_weight > 0 else "classifier"

    @property
    def n_train(self) -> int:
        return int(self.knn_labels.shape[0])

    def _row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        prepared = prepare_text(text, self.max_chars)
        pieces = [part.row(prepared) for part in self.parts]
        return np.concatenate([c for c, _ in pieces]), np.concatenate([v for _, v in pieces])

    def predict_proba(self, texts: list[str], *, use_knn: bool = True) -> np.ndarray:
        """Class probabilities (columns follow `classes`), kNN-blended when that helped."""
        rows = [self._row(text) for text in texts]
        probs = self._estimator_proba(rows)
        if use_knn and self.knn_weight > 0:
            probs = (1 - self.knn_weight) * probs + self.knn_weight * self._knn_votes(rows)
        return probs

    def _estimator_proba(self, rows: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        raw = np.zeros((len(rows), len(self.estimator_columns)))
        for model in self.linear:
            decision = np.vstack([values @ model.coef[columns] for columns, values in rows])
            decision = decision + model.intercept
            if self.kind == "logistic":
                raw += _logistic(decision)
            else:
                raw += model.proba(decision)
        raw /= len(self.linear)
        out = np.zeros((len(rows), len(self.classes)))
        out[:, self.estimator_columns] = raw
        return out

    def _knn_votes(self, rows: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        n_classes = len(self.classes)
        votes = np.zeros((len(rows), n_classes))
        k = min(self.knn_k, self.n_train)
        for i, (columns, values) in enumerate(rows):
            norm = np.sqrt(np.dot(values, values))
            query = values / norm if norm > 0 else values
            starts, ends = self.knn_indptr[columns], self.knn_indptr[columns + 1]
            lengths = ends - starts
            picks = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(
                lengths.sum()
            )
            sims = np.bincount(
                self.knn_rows[picks],
                weights=self.knn_values[picks].astype(np.float64) * np.repeat(query, lengths),
                minlength=self.n_train,
            )
            top = np.argpartition(-sims, k - 1)[:k]
            weights = np.clip(sims[top], 0, None) ** 2
            np.add.at(votes[i], self.knn_labels[top], weights)
        totals = votes.sum(axis=1, keepdims=True)
        uniform = np.full_like(votes, 1.0 / n_classes)
        return np.where(totals > 0, votes / np.where(totals > 0, totals, 1), uniform)


def _expit(x: np.ndarray) -> np.ndarray:
    """The logistic function without overflow warnings for large |x|."""
    out = np.empty_like(x, dtype=np.float64)
    positive = x >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-x[positive]))
    exp = np.exp(x[~positive])
    out[~positive] = exp / (1.0 + exp)
    return out


def _logistic(decision: np.ndarray) -> np.ndarray:
    """LogisticRegression.predict_proba from its decision values (binary or multinomial)."""
    if decision.shape[1] == 1:
        positive = _expit(decision[:, 0])
        return np.column_stack([1 - positive, positive])
    shifted = decision - decision.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _tfidf_part(vectorizer: Any, offset: int) -> TfidfPart | None:
    """The parts of a fitted TfidfVectorizer that transform reads; None if unfamiliar."""
    from assistant.categorization import features

    if not (
        vectorizer.sublinear_tf
        and vectorizer.use_idf
        and vectorizer.norm == "l2"
        and vectorizer.binary is False
        and vectorizer.dtype in (np.float64, "float64")
    ):
        return None
    if vectorizer.analyzer is features.stem_analyzer:
        analyzer = "stems"
    elif (
        vectorizer.analyzer == "char_wb"
        and vectorizer.lowercase
        and vectorizer.strip_accents is None
        and vectorizer.preprocessor is None
    ):
        analyzer = "char_wb"
    else:
        return None
    return TfidfPart(
        analyzer=analyzer,
        vocabulary={str(term): int(i) for term, i in vectorizer.vocabulary_.items()},
        idf=np.asarray(vectorizer.idf_, dtype=np.float64),
        ngram_range=tuple(vectorizer.ngram_range),  # type: ignore[arg-type]
        offset=offset,
    )


def _linear_parts(estimator: Any) -> tuple[str, tuple[SigmoidLinear, ...]] | None:
    """The calibrated SVCs or the logistic regression as arrays; None if unfamiliar."""
    kind = type(estimator).__name__
    if kind == "LogisticRegression":
        if getattr(estimator, "multi_class", "deprecated") not in ("deprecated", "auto"):
            return None
        coef = np.asarray(estimator.coef_, dtype=np.float64)
        n = coef.shape[0]
        model = SigmoidLinear(
            coef.T.copy(),
            np.asarray(estimator.intercept_, dtype=np.float64),
            np.zeros(n),
            np.zeros(n),
            np.arange(n),
            len(estimator.classes_),
        )
        return "logistic", (model,)
    if kind != "CalibratedClassifierCV" or estimator.method != "sigmoid":
        return None
    models = []
    classes = list(estimator.classes_)
    for calibrated in estimator.calibrated_classifiers_:
        inner = calibrated.estimator
        if type(inner).__name__ != "LinearSVC":
            return None
        columns = np.array([classes.index(c) for c in inner.classes_])
        if len(classes) == 2:
            columns = np.array([1])  # the binary decision is for the second class
        models.append(
            SigmoidLinear(
                np.asarray(inner.coef_, dtype=np.float64).T.copy(),
                np.asarray(inner.intercept_, dtype=np.float64),
                np.array([float(c.a_) for c in calibrated.calibrators]),
                np.array([float(c.b_) for c in calibrated.calibrators]),
                columns,
                len(classes),
            )
        )
    return "calibrated", tuple(models)


def compact_from_trained(model: Any) -> CompactClassifier | None:
    """The compact form of a `TrainedClassifier`, or None (logged) when it cannot be made."""
    union = model.features
    parts: list[TfidfPart] = []
    offset = 0
    for _, vectorizer in union.transformer_list:
        part = _tfidf_part(vectorizer, offset)
        if part is None:
            break
        parts.append(part)
        offset += len(part.vocabulary)
    linear = _linear_parts(model.estimator)
    if len(parts) != len(union.transformer_list) or union.transformer_weights or linear is None:
        logger.info("classifier %s has no compact form; predicting with it", model.version)
        return None
    knn = model.knn_matrix.tocsc()
    index = {code: i for i, code in enumerate(model.classes)}
    return CompactClassifier(
        classes=list(model.classes),
        version=model.version,
        taxonomy_version=model.taxonomy_version,
        knn_weight=float(model.knn_weight),
        knn_k=int(model.params.knn_k),
        max_chars=int(model.params.max_chars),
        parts=tuple(parts),
        kind=linear[0],
        linear=linear[1],
        estimator_columns=np.array([index[c] for c in model.estimator.classes_]),
        knn_indptr=np.asarray(knn.indptr, dtype=np.int64),
        knn_rows=np.asarray(knn.indices, dtype=np.int32),  # half the bytes to load
        knn_values=np.asarray(knn.data),
        knn_labels=np.array([index[label] for label in model.knn_labels], dtype=np.int64),
    )
