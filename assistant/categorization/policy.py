"""The categorization policy the bot and the daily flow share.

1. Nothing to read (empty text, attachments only) → `other`, flagged low-confidence.
2. The offline classifier (kNN-blended when that helped in cross-validation) is
   confident (calibrated probability ≥ threshold) → its label.
3. Otherwise the LLM, when one is configured and it answers with a valid code.
4. Otherwise the classifier's best guess, flagged low-confidence.

Decisions are stored in `kb.ticket_categories`, one row per ticket per (taxonomy
version, model version), so every period can be compared under one model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant.categorization.features import is_blank
from assistant.categorization.llm_fallback import LLMCategorizationError, LLMClassifier
from assistant.categorization.model_store import (
    StoredModel,
    StoredPredictor,
    load_active_predictor,
    train_from_marts,
)
from assistant.categorization.predictor import ClassifierError, Predictor
from assistant.categorization.taxonomy import (
    FALLBACK_CODE,
    Taxonomy,
    load_taxonomy,
    register_taxonomy,
)
from assistant.config import load_settings
from assistant.settings import AssistantSettings

logger = logging.getLogger(__name__)


class CategorizeConfig(BaseSettings):
    """Tuning of the policy (`KB_CATEGORIZE_*` variables); read once at the entry point."""

    model_config = SettingsConfigDict(
        env_prefix="KB_CATEGORIZE_", env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    threshold: float = Field(default=0.55, ge=0.0, le=1.0)
    use_llm: bool = True
    retrain_min_new_labels: int = Field(default=50, ge=1)
    min_train_labels: int = Field(default=30, ge=2)
    taxonomy_path: Path | None = None


@dataclass(frozen=True)
class CategoryDecision:
    """One ticket's category and how it was reached."""

    category_code: str
    confidence: float
    method: str  # classifier | knn_vote | llm | classifier_low_confidence | empty_text
    taxonomy_version: str
    model_version: str
    low_confidence: bool


class Categorizer:
    """The active model + taxonomy (+ optional LLM), ready to categorize a ticket text."""

    def __init__(
        self,
        model: Predictor,
        taxonomy: Taxonomy,
        *,
        llm: LLMClassifier | None = None,
        threshold: float = 0.55,
    ) -> None:
        unknown = set(model.classes) - set(taxonomy.codes)
        if unknown:
            raise ClassifierError(
                f"model {model.version} predicts codes outside taxonomy {taxonomy.version}: "
                f"{', '.join(sorted(unknown))}; retrain it"
            )
        self.model = model
        self.taxonomy = taxonomy
        self.llm = llm
        self.threshold = threshold

    @classmethod
    def open(
        cls,
        conn: psycopg.Connection,
        settings: AssistantSettings,
        *,
        config: CategorizeConfig | None = None,
        taxonomy: Taxonomy | None = None,
    ) -> Categorizer:
        """Load the active model; train one from `marts.fct_tickets` when there is none.

        The model is loaded in its compact numpy form when it has one, so categorizing a
        ticket needs no scikit-learn unless a model has to be trained.
        """
        config = config or load_settings(CategorizeConfig)
        taxonomy = taxonomy or load_taxonomy(config.taxonomy_path)
        register_taxonomy(conn, taxonomy)
        stored: StoredPredictor | StoredModel | None = load_active_predictor(conn)
        if stored is None or stored.model.taxonomy_version != taxonomy.version:
            reason = "no active classifier" if stored is None else "taxonomy version changed"
            logger.info("%s; training one from marts.fct_tickets", reason)
            try:
                stored = train_from_marts(conn, taxonomy, min_labels=config.min_train_labels)
            except ClassifierError as exc:
                raise ClassifierError(
                    f"{reason} for taxonomy {taxonomy.version} and none can be trained: {exc}"
                ) from exc
        llm = LLMClassifier.from_settings(settings, taxonomy) if config.use_llm else None
        return cls(stored.model, taxonomy, llm=llm, threshold=config.threshold)

    def _decision(self, code: str, confidence: float, method: str, low: bool) -> CategoryDecision:
        return CategoryDecision(
            category_code=code,
            confidence=float(min(max(confidence, 0.0), 1.0)),
            method=method,
            taxonomy_version=self.taxonomy.version,
            model_version=self.model.version,
            low_confidence=low,
        )

    def categorize(self, text: str) -> CategoryDecision:
        """Categorize one ticket text (subject + description) by the policy above."""
        return self.categorize_many([text], use_llm=True)[0]

    def categorize_many(self, texts: list[str], *, use_llm: bool = False) -> list[CategoryDecision]:
        """Batch form; the daily flow passes `use_llm=False` for a reproducible relabel."""
        decisions: list[CategoryDecision | None] = [None] * len(texts)
        readable = []
        for i, text in enumerate(texts):
            if is_blank(text):
                decisions[i] = self._decision(FALLBACK_CODE, 0.0, "empty_text", True)
            else:
                readable.append(i)
        if readable:
            probs = self.model.predict_proba([texts[i] for i in readable])
            for row, i in enumerate(readable):
                decisions[i] = self._pick(texts[i], probs[row], use_llm=use_llm)
        return [d for d in decisions if d is not None]

    def _pick(self, text: str, probs: np.ndarray, *, use_llm: bool) -> CategoryDecision:
        best = int(probs.argmax())
        code, confidence = self.model.classes[best], float(probs[best])
        if confidence >= self.threshold:
            return self._decision(code, confidence, self.model.method, False)
        if use_llm and self.llm is not None:
            try:
                answer = self.llm.classify(text)
            except LLMCategorizationError as exc:
                logger.warning("LLM categorization failed, keeping the classifier: %s", exc)
            else:
                return self._decision(answer.category_code, answer.confidence, "llm", False)
        return self._decision(code, confidence, "classifier_low_confidence", True)


_UPSERT = (
    "insert into kb.ticket_categories (ticket_id, taxonomy_version, model_version, "
    "category_code, confidence, method, low_confidence, categorized_at) "
    "values (%s, %s, %s, %s, %s, %s, %s, now()) "
    "on conflict (ticket_id, taxonomy_version, model_version) do "
)
_OVERWRITE = (
    "update set category_code = excluded.category_code, confidence = excluded.confidence, "
    "method = excluded.method, low_confidence = excluded.low_confidence, "
    "categorized_at = excluded.categorized_at"
)


def _row(ticket_id: int, d: CategoryDecision) -> tuple[object, ...]:
    return (
        ticket_id,
        d.taxonomy_version,
        d.model_version,
        d.category_code,
        d.confidence,
        d.method,
        d.low_confidence,
    )


def record_decision(conn: psycopg.Connection, ticket_id: int, decision: CategoryDecision) -> None:
    """Store (or replace) the ticket's category for this taxonomy and model version."""
    with conn.transaction():
        conn.execute(_UPSERT + _OVERWRITE, _row(ticket_id, decision))


def record_decisions(
    conn: psycopg.Connection,
    rows: Iterable[tuple[int, CategoryDecision]],
    *,
    overwrite: bool = False,
) -> int:
    """Batch store; without `overwrite` an existing row (e.g. the bot's) is kept."""
    params = [_row(ticket_id, decision) for ticket_id, decision in rows]
    if not params:
        return 0
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(_UPSERT + (_OVERWRITE if overwrite else "nothing"), params)
    return len(params)


def tickets_to_label(
    conn: psycopg.Connection, taxonomy_version: str, model_version: str, *, full: bool
) -> list[tuple[int, str | None, str | None]]:
    """(ticket_id, subject, description) of tickets without a row for this version pair.

    With `full`, every ticket of `marts.fct_tickets` (a relabel under the same versions).
    """
    if full:
        rows = conn.execute(
            "select ticket_id, subject, description from marts.fct_tickets order by ticket_id"
        ).fetchall()
    else:
        rows = conn.execute(
            "select t.ticket_id, t.subject, t.description from marts.fct_tickets as t "
            "where not exists (select 1 from kb.ticket_categories as c "
            "where c.ticket_id = t.ticket_id and c.taxonomy_version = %s "
            "and c.model_version = %s) "
            "order by t.ticket_id",
            (taxonomy_version, model_version),
        ).fetchall()
    return [(int(r[0]), r[1], r[2]) for r in rows]


@dataclass(frozen=True)
class AgreementCounts:
    """Staff-labelled tickets compared with the model's category, overall and after training."""

    tickets_total: int
    compared: int
    agreed: int
    after_training: int
    agreed_after_training: int


def count_staff_agreement(
    conn: psycopg.Connection, codes: Iterable[str], taxonomy_version: str, model_version: str
) -> AgreementCounts:
    """Count staff labels (mapped to `other` when not a taxonomy code) the model agrees with.

    "After training" means tickets created after the model's newest training ticket.
    """
    row = conn.execute(
        "with pairs as (select t.created_at, c.category_code = case "
        "when lower(trim(t.staff_category_code)) = any(%s) "
        "then lower(trim(t.staff_category_code)) else 'other' end as agrees "
        "from marts.fct_tickets as t "
        "join kb.ticket_categories as c on c.ticket_id = t.ticket_id "
        "and c.taxonomy_version = %s and c.model_version = %s "
        "where nullif(trim(t.staff_category_code), '') is not null), "
        "trained as (select labels_through from kb.classifier_models "
        "where model_version = %s) "
        "select (select count(*) from marts.fct_tickets), count(*), "
        "count(*) filter (where agrees), "
        "count(*) filter (where created_at > (select labels_through from trained)), "
        "count(*) filter (where agrees and created_at > (select labels_through from trained)) "
        "from pairs",
        (list(codes), taxonomy_version, model_version, model_version),
    ).fetchone()
    values = [int(v) for v in row] if row else [0] * 5
    return AgreementCounts(*values)
