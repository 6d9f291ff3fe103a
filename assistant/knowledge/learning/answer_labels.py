"""kb.answer_labels: the documents staff actually used to resolve each ticket.

The nightly `label` stage (flows/label.py) calls `label_resolved`. For every ticket
resolved since the previous run (`kb.answer_label_runs.closed_through`; all of them when
`full`) it collects

* links in any staff text of the ticket — public replies and internal notes — to a
  Confluence page or a past ticket (`assistant.knowledge.learning.answer_links`), strength 1.0;
* the Confluence section the resolving reply (int_ticket_dialogues.answer_text) overlaps
  most, when the overlap clears the chance margin (`assistant.knowledge.learning.answer_overlap`),
  strength = the tf-idf cosine.

Reading: the dbt relations `intermediate.int_ticket_dialogues` and
`intermediate.int_ticket_events_classified`, `staging.stg_confluence__pages` (titles for
`/display/` links), `marts.fct_tickets` (known ticket ids) and the Confluence sections of
the knowledge index (`kb.chunks`). Writing is idempotent: a ticket's labels are upserted
(an unchanged label keeps its `labelled_at`) and labels no longer found are removed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from assistant.knowledge.learning.answer_links import Directory, extract_links
from assistant.knowledge.learning.answer_overlap import DEFAULT_MIN_MARGIN, OverlapIndex, Section

logger = logging.getLogger(__name__)

OVERLAP = "overlap"


@dataclass(frozen=True)
class AnswerLabel:
    ticket_id: int
    document_id: str
    method: str
    strength: float
    chunk_id: str | None
    evidence: str | None
    ticket_closed_at: datetime | None


@dataclass(frozen=True)
class ResolvedTicket:
    ticket_id: int
    closed_at: datetime | None
    answer_text: str
    staff_texts: list[str]


def load_directory(conn: psycopg.Connection) -> Directory:
    """Live pages (id, space, title) and every ticket id the marts know."""
    directory = Directory()
    for page_id, space_key, title in conn.execute(
        "select page_id::text, space_key, title from staging.stg_confluence__pages "
        "where not coalesce(is_deleted, false)"
    ):
        directory.add_page(page_id, space_key, title)
    directory.ticket_ids = {
        row[0] for row in conn.execute("select ticket_id from marts.fct_tickets")
    }
    return directory


def load_sections(conn: psycopg.Connection, schema: str = "kb") -> list[Section]:
    """The Confluence sections of the knowledge index (what the bot can cite)."""
    rows = conn.execute(
        psycopg.sql.SQL(
            "select chunk_id, document_id, text from {}.chunks "
            "where source = 'confluence' order by chunk_id"
        ).format(psycopg.sql.Identifier(schema))
    ).fetchall()
    return [Section(chunk_id, document_id, text) for chunk_id, document_id, text in rows]


def resolved_tickets(conn: psycopg.Connection, since: datetime | None) -> list[ResolvedTicket]:
    """Tickets closed after `since` (all when None) with their resolving reply and staff texts."""
    rows = conn.execute(
        "select ticket_id, closed_at, coalesce(answer_text, '') "
        "from intermediate.int_ticket_dialogues "
        "where not coalesce(is_deleted, false) "
        "and (%(since)s::timestamptz is null or closed_at > %(since)s::timestamptz) "
        "order by ticket_id",
        {"since": since},
    ).fetchall()
    staff: dict[int, list[str]] = defaultdict(list)
    ids = [row[0] for row in rows]
    for ticket_id, text in conn.execute(
        "select ticket_id, body_text from intermediate.int_ticket_events_classified "
        "where ticket_id = any(%s) and actor_class = 'staff' and body_text is not null "
        "order by ticket_id, event_sequence",
        (ids,),
    ):
        staff[ticket_id].append(text)
    return [ResolvedTicket(t, closed, answer, staff.get(t, [])) for t, closed, answer in rows]


def find_labels(
    tickets: list[ResolvedTicket],
    directory: Directory,
    index: OverlapIndex,
    *,
    min_margin: float = DEFAULT_MIN_MARGIN,
) -> list[AnswerLabel]:
    """Links first, then the overlap label for each ticket (pure: no database)."""
    labels: list[AnswerLabel] = []
    matches = index.match_many([t.answer_text for t in tickets])
    for ticket, match in zip(tickets, matches, strict=True):
        for link in extract_links(
            "\n\n".join(ticket.staff_texts), directory, ticket_id=ticket.ticket_id
        ):
            labels.append(
                AnswerLabel(
                    ticket.ticket_id,
                    link.document_id,
                    link.method,
                    1.0,
                    None,
                    link.evidence,
                    ticket.closed_at,
                )
            )
        if match is not None and match.clears(min_margin):
            labels.append(
                AnswerLabel(
                    ticket.ticket_id,
                    match.document_id,
                    OVERLAP,
                    match.cosine,
                    match.chunk_id,
                    f"margin {match.margin:.3f}",
                    ticket.closed_at,
                )
            )
    return labels


def write_labels(
    conn: psycopg.Connection, ticket_ids: list[int], labels: list[AnswerLabel]
) -> tuple[int, int]:
    """Upsert `labels`, drop stale labels of `ticket_ids`; returns (changed, removed)."""
    keep = [(lab.ticket_id, lab.document_id, lab.method) for lab in labels]
    removed = conn.execute(
        "delete from kb.answer_labels where ticket_id = any(%s) "
        "and (ticket_id, document_id, method) not in "
        "(select * from unnest(%s::bigint[], %s::text[], %s::text[]))",
        (ticket_ids, [k[0] for k in keep], [k[1] for k in keep], [k[2] for k in keep]),
    ).rowcount
    changed = 0
    with conn.cursor() as cursor:
        for lab in labels:
            cursor.execute(
                "insert into kb.answer_labels (ticket_id, document_id, method, strength,"
                " chunk_id, evidence, ticket_closed_at) values (%s, %s, %s, %s, %s, %s, %s)"
                " on conflict (ticket_id, document_id, method) do update set"
                " strength = excluded.strength, chunk_id = excluded.chunk_id,"
                " evidence = excluded.evidence, ticket_closed_at = excluded.ticket_closed_at,"
                " labelled_at = now()"
                " where (kb.answer_labels.strength, kb.answer_labels.chunk_id,"
                " kb.answer_labels.ticket_closed_at) is distinct from"
                " (excluded.strength, excluded.chunk_id, excluded.ticket_closed_at)",
                (
                    lab.ticket_id,
                    lab.document_id,
                    lab.method,
                    lab.strength,
                    lab.chunk_id,
                    lab.evidence,
                    lab.ticket_closed_at,
                ),
            )
            changed += cursor.rowcount
    return changed, removed


def label_resolved(
    conn: psycopg.Connection, *, full: bool = False, min_margin: float = DEFAULT_MIN_MARGIN
) -> dict[str, Any]:
    """Label tickets resolved since the last run; records the run; returns its counts."""
    row = conn.execute("select max(closed_through) from kb.answer_label_runs").fetchone()
    since = None if full or row is None else row[0]
    tickets = resolved_tickets(conn, since)
    sections = load_sections(conn)
    labels = find_labels(
        tickets, load_directory(conn), OverlapIndex(sections), min_margin=min_margin
    )
    changed, removed = write_labels(conn, [t.ticket_id for t in tickets], labels)
    closed = [t.closed_at for t in tickets if t.closed_at is not None]
    through = max([*closed, since] if since else closed, default=None)
    labelled = len({lab.ticket_id for lab in labels})
    conn.execute(
        "insert into kb.answer_label_runs (closed_through, tickets_examined, tickets_labelled,"
        " labels_written, labels_removed) values (%s, %s, %s, %s, %s)",
        (through, len(tickets), labelled, changed, removed),
    )
    by_method: dict[str, int] = defaultdict(int)
    for lab in labels:
        by_method[lab.method] += 1
    logger.info("labelled %d of %d resolved tickets (%d changed)", labelled, len(tickets), changed)
    totals = conn.execute(
        "select count(*), count(distinct ticket_id) from kb.answer_labels"
    ).fetchone()
    return {
        "since": since.isoformat() if since else None,
        "tickets_examined": len(tickets),
        "tickets_labelled": labelled,
        "sections": len(sections),
        **{f"labels_{method}": count for method, count in sorted(by_method.items())},
        "labels_changed": changed,
        "labels_removed": removed,
        "labels_total": totals[0] if totals else 0,
        "tickets_with_labels_total": totals[1] if totals else 0,
    }
