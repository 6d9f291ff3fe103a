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
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from assistant.categorization.classifier import ClassifierError
from assistant.categorization.model_store import (
    count_new_labels,
    load_active_model,
    ticket_text,
    train_from_marts,
)
from assistant.categorization.policy import CategorizeConfig, Categorizer, record_decisions
from assistant.categorization.taxonomy import Taxonomy, load_taxonomy, register_taxonomy
from assistant.categorization.taxonomy_check import check_database
from assistant.config import load_settings
from assistant.db import connect
from assistant.errors import DatabaseError
from assistant.settings import AssistantSettings
from flows.runtime import Runtime

logger = logging.getLogger(__name__)

ARTIFACT_KEY = "categorize-summary"
BATCH_SIZE = 500
T = TypeVar("T")
Step = Callable[..., Any]


def direct_step(name: str, fn: Callable[..., T], /, *args: Any) -> T:
    """Run a step in-process (tests, `.fn`)."""
    return fn(*args)


def _transient(_task: Any, _run: Any, state: Any) -> bool:
    """Retry only a lost database connection; bad data or a drifted taxonomy won't heal."""
    error = state.result(raise_on_failure=False)
    return isinstance(error, psycopg.OperationalError | DatabaseError)


def prefect_step(name: str, fn: Callable[..., T], /, *args: Any) -> T:
    """Run a step as a Prefect task; the steps are idempotent, so a retry is safe."""
    boundary = task(
        fn,
        name=name,
        retries=1,
        retry_delay_seconds=5,
        retry_jitter_factor=0.5,
        retry_condition_fn=_transient,
        cache_policy=NO_CACHE,
    )
    return boundary(*args)


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


def _unlabelled(conn: psycopg.Connection, categorizer: Categorizer, full: bool) -> list[Any]:
    if full:
        return conn.execute(
            "select ticket_id, subject, description from marts.fct_tickets order by ticket_id"
        ).fetchall()
    return conn.execute(
        "select t.ticket_id, t.subject, t.description from marts.fct_tickets as t "
        "where not exists (select 1 from kb.ticket_categories as c "
        "where c.ticket_id = t.ticket_id and c.taxonomy_version = %s and c.model_version = %s) "
        "order by t.ticket_id",
        (categorizer.taxonomy.version, categorizer.model.version),
    ).fetchall()


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
        rows = _unlabelled(conn, categorizer, full)
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
            "select count(*), count(*) filter (where agrees), "
            "count(*) filter (where created_at > (select labels_through from trained)), "
            "count(*) filter (where agrees and created_at > (select labels_through from trained)), "
            "(select count(*) from marts.fct_tickets) from pairs",
            (list(taxonomy.codes), taxonomy.version, model_version, model_version),
        ).fetchone()
    compared, agreed, unseen, unseen_agreed, total = (int(v) for v in row) if row else (0,) * 5
    return {
        "tickets_total": total,
        "staff_labelled_compared": compared,
        "staff_model_agreement": round(agreed / compared, 4) if compared else None,
        "staff_labelled_after_training": unseen,
        "staff_model_agreement_after_training": (
            round(unseen_agreed / unseen, 4) if unseen else None
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
    runtime = Runtime.from_environment()
    config = load_settings(CategorizeConfig)
    summary = run_categorize(
        runtime.database_url(), runtime.settings, config, full=full, step=prefect_step
    )
    create_table_artifact(
        key=ARTIFACT_KEY,
        table=[{"metric": key, "value": str(value)} for key, value in summary.items()],
        description="categorize: model version, tickets labelled, staff–model agreement",
    )
    return summary


def run_stage(runtime: Runtime, *, full: bool) -> dict[str, Any]:
    """`kb refresh --only categorize [--full]`."""
    del runtime  # the flow reads the same environment itself (parameters stay secret-free)
    return categorize(full=full)
