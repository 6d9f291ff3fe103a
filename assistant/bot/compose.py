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
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.bot.answer_selection import (
    Passage,
    Scored,
    SectionLoader,
    agreement,
    lexical_similarity,
    page_passages,
    rank_passages,
    ticket_passage,
)
from assistant.bot.drafts import steps_from_section
from assistant.bot.staff_text import customer_safe, is_internal_section
from assistant.redact import PublicContacts, redact

logger = logging.getLogger(__name__)

MAX_PAGES = 3
MAX_TICKETS = 3
# Structural choices, compared with `kb eval answers` on the sample AND its degraded copy
# (README, "What the bot's comment contains"); none is a fitted constant.
RESOLUTION_KEY = "question"  # a past reply is scored by the question it answered
DRAFT_POOL = 12  # best-scored candidates the draft is chosen from
USE_AGREEMENT = True  # add agreement with other documents' candidates (`agreement`)
_NOT_AN_ANSWER = re.compile(
    r"симптом|проблема|как выглядит|статьи раздела|см\. также|связанные|что такое|пример",
    re.IGNORECASE,
)
_QUOTE_PREFIX = re.compile(r"^\s*>\s?")
_GREETING = re.compile(
    r"^(здравствуйте|добрый (день|вечер)|доброе утро|привет)[^!.\n]*[!.]?\s*", re.IGNORECASE
)
_SIGN_OFF = re.compile(
    r"^(с уважением|спасибо за обращение|служба поддержки|если вопрос останется)"
    # a colleague's signature from a past reply: «Ольга, служба поддержки Pyrus»
    r"|^[^\n]{0,40}\b(служба|отдел|команда|специалист)\s+(технической\s+)?поддержки[^\n]{0,40}$",
    re.IGNORECASE,
)
_REFERENCE_ONLY = re.compile(r"^\s*[«\"][^»\"]+[»\"]\s*\.?\s*$")
_PANEL = re.compile(r"^\s*панель\s*:", re.IGNORECASE)
_NOT_PROSE = re.compile(r"^\s*(?:\||```|\{|\}|json|POST |GET )")


@dataclass
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
        found = ticket_passage(
            str(hit.document_id), hit.title or "", rank, chunks, key=RESOLUTION_KEY
        )
        if found is not None:
            passages.append(found)
    return passages


def is_answer(passage: Passage) -> bool:
    """Content that can answer a ticket (not a symptom list, a link list or a definition)."""
    if passage.kind != "section":
        return True
    lines = [line for line in passage.text.splitlines() if line.strip()]
    links_only = all(_REFERENCE_ONLY.match(line.lstrip("-•* ")) for line in lines)
    return not links_only and not _NOT_AN_ANSWER.search(passage.heading)


def draft_body(passage: Passage, public: PublicContacts | None = None) -> str:
    """The customer-safe text a candidate contributes to a draft ('' when nothing is left)."""
    if passage.kind == "section" and is_internal_section(passage.heading):
        return ""
    lines = []
    for raw in passage.text.splitlines():
        line = _GREETING.sub("", _QUOTE_PREFIX.sub("", raw).strip()).strip()
        if not line or _PANEL.match(line) or _SIGN_OFF.match(line) or _NOT_PROSE.match(line):
            continue
        lines.append(line)
    text = "\n".join(lines)
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
    result = Composition(
        ranked=ranked, candidates=list(dict.fromkeys(p.document_id for p in ordered))
    )
    # A section that opens with a greeting is a sample reply (a style guide's «Пример
    # ответа» inside an expand macro has no heading of its own): a draft, not steps.
    sections = [p for p in ordered if p.kind == "section" and not reads_as_reply(p.text)]
    if sections:
        best = sections[0]
        result.steps_source = best
        steps = _steps(best.text)
        if len(steps) < 2:  # a short passage: continue with the next best of the same page
            more = next((p for p in sections[1:] if p.document_id == best.document_id), None)
            if more is not None:
                steps += _steps(more.text)
        result.steps = steps[:5]
    for passage in _templates_on_topic(ordered):
        body = draft_body(passage, public)
        if body:
            result.draft_body, result.draft_source = body, passage
            break
    return result


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


def reads_as_reply(text: str) -> bool:
    """True when the passage's first line greets someone: it is a reply, not instructions."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return bool(_GREETING.match(_QUOTE_PREFIX.sub("", first).strip()))


def _steps(text: str) -> list[str]:
    """Steps of a passage without bare references to other pages («Название статьи»),
    greetings or sign-offs."""
    return [
        step
        for step in steps_from_section(text)
        if not _REFERENCE_ONLY.match(step)
        and not _SIGN_OFF.match(step)
        and _GREETING.sub("", step).strip()
    ]


def choose_order(ranked: Sequence[Scored], embedder: object | None) -> list[Passage]:
    """Candidates best first: closeness to the ticket plus agreement across sources."""
    pool = list(ranked[:DRAFT_POOL])
    if not USE_AGREEMENT or len(pool) < 2:
        return [s.passage for s in pool]
    support = agreement([s.passage for s in pool], embedder)
    order = sorted(range(len(pool)), key=lambda i: (-(pool[i].score + support[i]), i))
    return [pool[i].passage for i in order]
