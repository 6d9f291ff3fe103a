"""Where classifier models and their training labels live in Postgres.

Models are pickled into `kb.classifier_models.model` (bytea) with their version,
training date and cross-validated per-class metrics; exactly one row is active.
Next to it, `predictor` holds the model's numpy-only form
(`assistant.categorization.predictor`), which is what the bot and `kb ask` load: it
needs neither scikit-learn nor SciPy. A row stored before that column existed gets it
the first time it is loaded. Pickles are only ever read from this table, which only kb
writes. Training labels come from `marts.fct_tickets.staff_category_code` (the final
staff value).

scikit-learn is imported only by the functions that train or read the full model.
"""

from __future__ import annotations

import io
import logging
import pickle
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb

from assistant.categorization.predictor import (
    ClassifierError,
    CompactClassifier,
    Predictor,
    compact_from_trained,
)
from assistant.categorization.taxonomy import Taxonomy
from assistant.email_text import latest_message

if TYPE_CHECKING:
    from assistant.categorization.classifier import ClassifierParams, TrainedClassifier

logger = logging.getLogger(__name__)


def ticket_text(subject: str | None, description: str | None) -> str:
    """The text a ticket is classified on: subject, then the description's newest message.

    The same reading as the bot's (`assistant.bot.suggest.ticket_query`): an e-mail's
    quoted history and signature say nothing about this ticket's category.
    """
    body = latest_message(description) if description else ""
    return "\n".join(part for part in (subject, body) if part and part.strip())


@dataclass(frozen=True)
class LabelledTickets:
    """Staff-labelled tickets mapped onto the taxonomy."""

    ticket_ids: list[int]
    texts: list[str]
    labels: list[str]
    labels_through: datetime | None
    unknown_codes: dict[str, int]


def _require_tickets_table(conn: psycopg.Connection) -> None:
    row = conn.execute("select to_regclass('marts.fct_tickets')").fetchone()
    if row is None or row[0] is None:
        raise ClassifierError(
            "marts.fct_tickets does not exist yet; run `kb refresh --only transform` first"
        )


def load_labelled_tickets(conn: psycopg.Connection, taxonomy: Taxonomy) -> LabelledTickets:
    """All tickets with a staff category; unknown codes become `other` (with a warning)."""
    _require_tickets_table(conn)
    rows = conn.execute(
        "select ticket_id, created_at, subject, description, staff_category_code "
        "from marts.fct_tickets where nullif(trim(staff_category_code), '') is not null "
        "order by ticket_id"
    ).fetchall()
    ids: list[int] = []
    texts: list[str] = []
    labels: list[str] = []
    unknown: dict[str, int] = {}
    latest: datetime | None = None
    for ticket_id, created_at, subject, description, code in rows:
        label = taxonomy.normalize_code(code)
        if label is None:
            continue
        if label != code.strip().lower():
            unknown[code] = unknown.get(code, 0) + 1
        ids.append(int(ticket_id))
        texts.append(ticket_text(subject, description))
        labels.append(label)
        if created_at is not None and (latest is None or created_at > latest):
            latest = created_at
    for code, count in sorted(unknown.items()):
        logger.warning(
            "staff category %r (%d tickets) is not in taxonomy %s; trained as 'other'",
            code,
            count,
            taxonomy.version,
        )
    return LabelledTickets(ids, texts, labels, latest, unknown)


def count_new_labels(conn: psycopg.Connection, since: datetime | None) -> int:
    """Labelled tickets created after the active model's newest training ticket."""
    _require_tickets_table(conn)
    row = conn.execute(
        "select count(*) from marts.fct_tickets "
        "where nullif(trim(staff_category_code), '') is not null "
        "and (%s::timestamptz is null or created_at > %s::timestamptz)",
        (since, since),
    ).fetchone()
    return int(row[0]) if row else 0


def save_model(
    conn: psycopg.Connection,
    model: TrainedClassifier,
    *,
    labels_through: datetime | None,
    activate: bool = True,
) -> bool:
    """Store the model (a known version is kept as is); returns True when it was new."""
    with conn.transaction():
        inserted = conn.execute(
            "insert into kb.classifier_models (model_version, taxonomy_version, trained_at, "
            "training_data_hash, n_train, labels_through, params, metrics, model, predictor) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "on conflict (model_version) do nothing returning model_version",
            (
                model.version,
                model.taxonomy_version,
                model.trained_at,
                model.training_data_hash,
                model.n_train,
                labels_through,
                Jsonb(_params_json(model)),
                Jsonb(model.metrics),
                pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL),
                _compact_blob(model),
            ),
        ).fetchone()
        if activate:
            activate_model(conn, model.version)
    if inserted:
        logger.info("stored classifier %s (%d training tickets)", model.version, model.n_train)
    return inserted is not None


def _params_json(model: TrainedClassifier) -> dict[str, object]:
    from dataclasses import asdict

    return asdict(model.params) | {"knn_weight": model.knn_weight, "classes": model.classes}


def activate_model(conn: psycopg.Connection, version: str) -> None:
    """Make `version` the only active model."""
    with conn.transaction():
        found = conn.execute(
            "select 1 from kb.classifier_models where model_version = %s", (version,)
        ).fetchone()
        if found is None:
            raise ClassifierError(f"no classifier model {version!r} in kb.classifier_models")
        conn.execute(
            "update kb.classifier_models set is_active = false "
            "where is_active and model_version <> %s",
            (version,),
        )
        conn.execute(
            "update kb.classifier_models set is_active = true where model_version = %s",
            (version,),
        )


@dataclass(frozen=True)
class StoredModel:
    """A model read back from the table, with when its labels end."""

    model: TrainedClassifier
    labels_through: datetime | None


# Models pickled before `assistant/` became packages name their classes and the
# `stem_analyzer` function by the flat module paths; map them to where they live now so a
# stored model keeps loading without a retrain.
_MOVED_MODULES = {
    "assistant.classifier": "assistant.categorization.classifier",
    "assistant.classifier_text": "assistant.categorization.features",
}


class _ModelUnpickler(pickle.Unpickler):
    """Unpickler that resolves the pre-package module paths of stored classifiers."""

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(_MOVED_MODULES.get(module, module), name)


def _compact_blob(model: TrainedClassifier) -> bytes | None:
    compact = compact_from_trained(model)
    return None if compact is None else pickle.dumps(compact, protocol=pickle.HIGHEST_PROTOCOL)


def _unpickle(blob: bytes) -> Any:
    try:
        return _ModelUnpickler(io.BytesIO(blob)).load()  # type: ignore[no-any-return]
    except (pickle.UnpicklingError, AttributeError, ImportError, EOFError) as exc:
        raise ClassifierError(
            f"a stored classifier cannot be loaded ({exc}); retrain with "
            "`kb refresh --only categorize --full`"
        ) from exc


def load_active_model(conn: psycopg.Connection) -> StoredModel | None:
    """The active model, or None when none was trained yet."""
    row = conn.execute(
        "select model, labels_through from kb.classifier_models where is_active"
    ).fetchone()
    if row is None:
        return None
    return StoredModel(model=_unpickle(row[0]), labels_through=row[1])


@dataclass(frozen=True)
class StoredPredictor:
    """The active model in the form that predicts fastest, with when its labels end."""

    model: Predictor
    labels_through: datetime | None


def load_active_predictor(conn: psycopg.Connection) -> StoredPredictor | None:
    """The active model's compact form (made and stored on first use); None when untrained.

    Falls back to the full model when no compact form can be made of it.
    """
    with conn.cursor(binary=True) as cursor:  # bytea as bytes, not hex text: ~2× faster
        row = cursor.execute(
            "select model_version, predictor, labels_through from kb.classifier_models "
            "where is_active"
        ).fetchone()
    if row is None:
        return None
    version, blob, labels_through = row
    if blob is not None:
        try:
            stored_compact = _unpickle(blob)
        except ClassifierError as exc:
            logger.warning("compact classifier %s unreadable (%s); remaking it", version, exc)
        else:
            if isinstance(stored_compact, CompactClassifier) and stored_compact.version == version:
                return StoredPredictor(stored_compact, labels_through)
    stored = load_model(conn, version)
    if stored is None:  # deleted in between
        return None
    compact = compact_from_trained(stored.model)
    if compact is None:
        return StoredPredictor(stored.model, labels_through)
    try:
        with conn.transaction():
            conn.execute(
                "update kb.classifier_models set predictor = %s where model_version = %s",
                (pickle.dumps(compact, protocol=pickle.HIGHEST_PROTOCOL), version),
            )
        logger.info("stored the compact form of classifier %s", version)
    except psycopg.Error as exc:  # a read-only role: predict anyway, store it next time
        logger.warning("could not store the compact form of classifier %s: %s", version, exc)
    return StoredPredictor(compact, labels_through)


def load_model(conn: psycopg.Connection, version: str) -> StoredModel | None:
    """A stored model by version (active or not)."""
    row = conn.execute(
        "select model, labels_through from kb.classifier_models where model_version = %s",
        (version,),
    ).fetchone()
    return StoredModel(model=_unpickle(row[0]), labels_through=row[1]) if row else None


def train_from_marts(
    conn: psycopg.Connection,
    taxonomy: Taxonomy,
    *,
    params: ClassifierParams | None = None,
    min_labels: int = 30,
    activate: bool = True,
) -> StoredModel:
    """Train on every staff-labelled ticket, store the model and (by default) activate it.

    When a model of the very same version (same labels, params, taxonomy) is stored
    already, it is reused instead of trained again.
    """
    from assistant.categorization.classifier import planned_version, train_classifier

    labelled = load_labelled_tickets(conn, taxonomy)
    if len(labelled.labels) < min_labels:
        raise ClassifierError(
            f"only {len(labelled.labels)} staff-labelled ticket(s) in marts.fct_tickets; "
            f"at least {min_labels} are needed to train the classifier"
        )
    version = planned_version(
        labelled.texts, labelled.labels, params=params, taxonomy_version=taxonomy.version
    )
    existing = load_model(conn, version)
    if existing is not None:
        logger.info("labels unchanged since classifier %s; reusing it", version)
        if activate:
            activate_model(conn, version)
        return existing
    model = train_classifier(
        labelled.texts, labelled.labels, params=params, taxonomy_version=taxonomy.version
    )
    save_model(conn, model, labels_through=labelled.labels_through, activate=activate)
    return StoredModel(model=model, labels_through=labelled.labels_through)
