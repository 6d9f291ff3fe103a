"""Prefect flow `categorize`: keep one model version's category on every ticket.

Steps: check the taxonomy (a content change without a version bump stops the run),
retrain when there is no active model, the taxonomy version changed, or at least
`KB_CATEGORIZE_RETRAIN_MIN_NEW_LABELS` staff labels arrived since the active model's
newest training ticket; then label every ticket that has no row for the current
(taxonomy, model) version. A new model version therefore relabels ALL tickets, so
comparisons across periods always use one model. The batch uses the offline
classifier only (reproducible, no LLM cost); the bot's own real-time rows are kept.
Ends with the staff–model agreement rate and a table artifact.
"""

from __future__ import annotations

import logging
from typing import Any

from prefect import flow

from assistant.categorization.classifier import ClassifierError
from assistant.categorization.model_store import (
    count_new_labels,
    load_active_model,
    ticket_text,
    train_from_marts,
)
from assistant.categorization.policy import (
    CategorizeConfig,
    Categorizer,
    count_staff_agreement,
    record_decisions,
    tickets_to_label,
)
from assistant.categorization.taxonomy import Taxonomy, load_taxonomy, register_taxonomy
from assistant.categorization.taxonomy_check import check_database
from assistant.config import load_settings
from assistant.db import connect
from assistant.settings import AssistantSettings
from assistant.steps import Step, direct_step
from flows.artifacts import publish_summary
from flows.runtime import Runtime, current_runtime
from flows.steps import TRANSIENT, prefect_steps

logger = logging.getLogger(__name__)

ARTIFACT_KEY = "categorize-summary"
BATCH_SIZE = 500

# a lost database connection heals; bad data or a drifted taxonomy won't

prefect_step = prefect_steps(transient=TRANSIENT, retries=1, delays=[5])


def retrain_if_needed(
    url: str, taxonomy: Taxonomy, config: CategorizeConfig, full: bool
) -> dict[str, Any]:
    """Register the taxonomy, decide whether to retrain, and train + activate if so."""
    with connect(url, autocommit=True) as conn:
        register_taxonomy(conn, taxonomy)
        stored = load_active_model(conn)
        previous = stored.model.version if stored else None
        new_labels = count_new_labels(conn, stored.labels_through if stored else None)
        if stored is None:
            reason = "no active model"
        elif stored.model.taxonomy_version != taxonomy.version:
            reason = f"taxonomy {stored.model.taxonomy_version} → {taxonomy.version}"
        elif new_labels >= config.retrain_min_new_labels:
            reason = f"{new_labels} new labels"
        elif full:
            reason = "full run"
        else:
            return {"model_version": previous, "retrained": False, "new_labels": new_labels}
        try:
            trained = train_from_marts(conn, taxonomy, min_labels=config.min_train_labels)
        except ClassifierError as exc:  # too few labels or categories: report, do not fail
            usable = stored is not None and stored.model.taxonomy_version == taxonomy.version
            logger.warning("classifier not retrained (%s): %s", reason, exc)
            return {
                "model_version": previous if usable else None,
                "retrained": False,
                "training_skipped": " ".join(str(exc).split()),
                "new_labels": new_labels,
            }
    version = trained.model.version
    logger.info("retrained (%s): %s → %s", reason, previous, version)
    return {
        "model_version": version,
        "retrained": version != previous,
        "retrain_reason": reason,
        "new_labels": new_labels,
        "previous_model_version": previous,
        "cv_macro_f1": trained.model.metrics.get("macro_f1"),
    }


def label_tickets(
    url: str,
    settings: AssistantSettings,
    taxonomy: Taxonomy,
    config: CategorizeConfig,
    full: bool,
) -> dict[str, Any]:
    """Label every ticket lacking a row for the active version (all of them when `full`)."""
    with connect(url, autocommit=True) as conn:
        categorizer = Categorizer.open(
            conn, settings, config=config.model_copy(update={"use_llm": False}), taxonomy=taxonomy
        )
        rows = tickets_to_label(
            conn, categorizer.taxonomy.version, categorizer.model.version, full=full
        )
        written = low = 0
        for start in range(0, len(rows), BATCH_SIZE):
            chunk = rows[start : start + BATCH_SIZE]
            decisions = categorizer.categorize_many([ticket_text(r[1], r[2]) for r in chunk])
            low += sum(d.low_confidence for d in decisions)
            written += record_decisions(
                conn, [(r[0], d) for r, d in zip(chunk, decisions, strict=True)], overwrite=full
            )
    logger.info("labelled %d tickets with model %s", written, categorizer.model.version)
    return {"labelled": written, "labelled_low_confidence": low}


def agreement(url: str, taxonomy: Taxonomy, model_version: str) -> dict[str, Any]:
    """Share of staff-labelled tickets where the model's category equals the staff's.

    Overall (optimistic: the model was trained on most of these labels) and on tickets
    created after the model's newest training ticket (an out-of-sample figure).
    """
    with connect(url, autocommit=True) as conn:
        counts = count_staff_agreement(conn, taxonomy.codes, taxonomy.version, model_version)
    compared, unseen = counts.compared, counts.after_training
    return {
        "tickets_total": counts.tickets_total,
        "staff_labelled_compared": compared,
        "staff_model_agreement": round(counts.agreed / compared, 4) if compared else None,
        "staff_labelled_after_training": unseen,
        "staff_model_agreement_after_training": (
            round(counts.agreed_after_training / unseen, 4) if unseen else None
        ),
    }


def check_taxonomy(url: str, taxonomy: Taxonomy) -> dict[str, Any]:
    """Warn, naming them, about category values that map to no seed row."""
    with connect(url, autocommit=True) as conn:
        checked = check_database(conn, taxonomy)
    warning = checked.warning(taxonomy)
    if warning:
        logger.warning("%s", warning)
    return {"unmapped_category_values": len(checked.unmapped)}


def run_categorize(
    url: str,
    settings: AssistantSettings,
    config: CategorizeConfig,
    *,
    full: bool = False,
    step: Step = direct_step,
) -> dict[str, Any]:
    """The flow's body without Prefect: retrain if needed, label, measure agreement."""
    taxonomy = load_taxonomy(config.taxonomy_path)
    checked = step("taxonomy-check", check_taxonomy, url, taxonomy)
    model = step("retrain-if-needed", retrain_if_needed, url, taxonomy, config, full)
    if model["model_version"] is None:
        logger.warning("no classifier for taxonomy %s; tickets stay unlabelled", taxonomy.version)
        return {"taxonomy_version": taxonomy.version, **checked, **model, "labelled": 0}
    labelled = step("label-tickets", label_tickets, url, settings, taxonomy, config, full)
    agreed = step("staff-agreement", agreement, url, taxonomy, model["model_version"])
    return {"taxonomy_version": taxonomy.version, **checked, **model, **labelled, **agreed}


@flow(name="categorize")
def categorize(full: bool = False) -> dict[str, Any]:
    """Retrain when enough new labels exist, label every ticket for the active version."""
    runtime = current_runtime()
    config = load_settings(CategorizeConfig)
    summary = run_categorize(
        runtime.database_url(), runtime.settings, config, full=full, step=prefect_step
    )
    publish_summary(
        ARTIFACT_KEY, summary, "categorize: model version, tickets labelled, staff–model agreement"
    )
    return summary


def run(runtime: Runtime) -> dict[str, Any]:
    """`kb refresh --only categorize [--full]`."""
    with runtime.active():
        return categorize(full=runtime.full)
