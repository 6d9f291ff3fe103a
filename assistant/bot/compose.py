"""Retrieval-only composition: steps and a customer draft from the passages that fit.

The engineer's steps come from the page passage closest to the ticket (staff-facing
text allowed there). The customer draft comes from the best answer-shaped candidate —
a page's reply template, a past ticket's staff reply (personal data masked) or the
best passage itself — compared on the same footing: how close the candidate's answer
text is to the ticket. Every draft sentence then passes the staff-text filter, and a
candidate that leaves nothing for the customer yields to the next one.

Symptom descriptions («Симптомы», «Клиент пишет: …») are close to the ticket by
construction but answer nothing, so they are never a source of steps or drafts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.bot.answer_selection import (
    Passage,
    Scored,
    agreement,
    lexical_similarity,
    page_passages,
    rank_passages,
    ticket_passage,
)
from assistant.bot.models import SectionLoader
from assistant.bot.reply_text import answers_nothing, customer_lines, passage_steps, reads_as_reply
from assistant.bot.staff_text import customer_safe, is_internal_section
from assistant.redact import PublicContacts, redact

logger = logging.getLogger(__name__)

MAX_PAGES = 3
MAX_TICKETS = 3
# Best-scored candidates the draft is chosen from: a structural choice compared with
# `kb eval answers` on the sample AND its degraded copy (docs/answers.md), not a fit.
DRAFT_POOL = 12


@dataclass(frozen=True)
class Composition:
    """What the retrieval-only suggestion shows, and where each part came from."""

    steps: list[str] = field(default_factory=list)
    draft_body: str = ""
    draft_source: Passage | None = None
    steps_source: Passage | None = None
    ranked: list[Scored] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)  # documents the draft was chosen among


def _loaded(loader: SectionLoader | None, hit: Any) -> list[tuple[str, str]]:
    if loader is not None:
        try:
            sections = list(loader(hit.document_id) or [])
            if sections:
                return sections
        except Exception as exc:  # missing sections only make the comment plainer
            logger.warning("sections of %s unavailable: %s", hit.document_id, exc)
    return [("", hit.text or hit.snippet or "")]


def gather(
    page_hits: Sequence[Any], ticket_hits: Sequence[Any], loader: SectionLoader | None
) -> list[Passage]:
    """Passages of the top pages and the staff replies of the top past tickets."""
    passages: list[Passage] = []
    for rank, hit in enumerate(page_hits[:MAX_PAGES]):
        sections = _loaded(loader, hit)
        passages.extend(
            page_passages(str(hit.document_id), hit.source, hit.title or "", rank, sections)
        )
    for rank, hit in enumerate(ticket_hits[:MAX_TICKETS]):
        chunks = [text for _, text in _loaded(loader, hit)]
        if hit.text and hit.text not in chunks:
            chunks.append(hit.text)
        found = ticket_passage(str(hit.document_id), hit.title or "", rank, chunks)
        if found is not None:
            passages.append(found)
    return passages


def is_answer(passage: Passage) -> bool:
    """Content that can answer a ticket (not a symptom list, a link list or a definition)."""
    return passage.kind != "section" or not answers_nothing(passage.heading, passage.text)


def candidate_body(passage: Passage, public: PublicContacts | None = None) -> str:
    """The customer-safe text a candidate contributes to a draft ('' when nothing is left)."""
    if passage.kind == "section" and is_internal_section(passage.heading):
        return ""
    text = customer_lines(passage.text)
    if passage.kind == "resolution":
        text = redact(text, public)  # the organisation's own contacts stay
    return customer_safe(text)[:1500]


def compose(
    query: str,
    page_hits: Sequence[Any],
    ticket_hits: Sequence[Any],
    loader: SectionLoader | None,
    embedder: object | None,
    public: PublicContacts | None = None,
) -> Composition:
    """Steps and draft body for a ticket from what retrieval found (see module doc)."""
    passages = gather(page_hits, ticket_hits, loader)
    if not passages:
        return Composition()
    ranked = [s for s in rank_passages(query, passages, embedder) if is_answer(s.passage)]
    ordered = choose_order(ranked, embedder)
    # A section that opens with a greeting is a sample reply (a style guide's «Пример
    # ответа» inside an expand macro has no heading of its own): a draft, not steps.
    sections = [p for p in ordered if p.kind == "section" and not reads_as_reply(p.text)]
    steps: list[str] = []
    if sections:
        best = sections[0]
        steps = passage_steps(best.text)
        if len(steps) < 2:  # a short passage: continue with the next best of the same page
            more = next((p for p in sections[1:] if p.document_id == best.document_id), None)
            if more is not None:
                steps += passage_steps(more.text)
    drafted = next(
        (
            (body, passage)
            for passage in _templates_on_topic(ordered)
            if (body := candidate_body(passage, public))
        ),
        ("", None),
    )
    return Composition(
        steps=steps[:5],
        draft_body=drafted[0],
        draft_source=drafted[1],
        steps_source=sections[0] if sections else None,
        ranked=ranked,
        candidates=list(dict.fromkeys(p.document_id for p in ordered)),
    )


def _templates_on_topic(ordered: Sequence[Passage]) -> list[Passage]:
    """Drop reply templates that answer another case of their page than this ticket's.

    A page's template answers the page's main case. It stays a candidate only when the
    page section it is closest to is also the section closest to this ticket (`ordered`
    is best first) — a comparison of two rankings, with no threshold to tune.
    """
    kept = []
    for passage in ordered:
        if passage.kind == "template":
            sections = [
                p for p in ordered if p.kind == "section" and p.document_id == passage.document_id
            ]
            if sections:
                closeness = lexical_similarity(passage.text, [p.text for p in sections])
                closest = sections[max(range(len(sections)), key=lambda i: closeness[i])]
                if closest is not sections[0]:
                    continue
        kept.append(passage)
    return kept


def choose_order(ranked: Sequence[Scored], embedder: object | None) -> list[Passage]:
    """Candidates best first: closeness to the ticket plus agreement across sources."""
    pool = list(ranked[:DRAFT_POOL])
    if len(pool) < 2:
        return [s.passage for s in pool]
    support = agreement([s.passage for s in pool], embedder)
    order = sorted(range(len(pool)), key=lambda i: (-(pool[i].score + support[i]), i))
    return [pool[i].passage for i in order]
