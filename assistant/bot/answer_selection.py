"""Which part of the retrieved material answers this ticket: passages, not whole pages.

Retrieval ranks chunks; a page chunk usually holds several topics (limits, rights, API
errors), and a page's fix or reply-template section answers the page's main case, not
necessarily this ticket's. So the pages and past tickets retrieval found are cut into
passages — a heading plus the lines under it — and each passage is scored against the
ticket with the retrieval embedder (cosine) plus a stem-overlap cosine, which also
works when the index has no vectors. The steps come from the best page passage, the
draft from the best answer-shaped candidate: a page's reply template, a past ticket's
staff reply (scored by how close its question is to this ticket) or, failing those,
the best passage itself.

Pages indexed from Confluence carry real headings (chunk sections, `**bold**` lines);
plain-text pages (e.g. the BEIR corpus of `kb eval answers`) mark a heading as a short
line without end punctuation, so both shapes are cut the same way.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from assistant.bot.reply_text import is_reply_heading, resolution_text, section_body
from assistant.email_text import latest_message
from assistant.knowledge.text import terms

logger = logging.getLogger(__name__)

_BOLD = re.compile(r"^\*\*(.+)\*\*$")
_LIST_OR_QUOTE = re.compile(r"^\s*(?:\d{1,2}[.)]|[-•*—>|])\s*")
_QUESTION = re.compile(r"(?is)вопрос\s*:\s*(.*?)(?:\n\s*решение\s*:|$)")
MAX_HEADING_CHARS = 80


@dataclass(frozen=True)
class Passage:
    """A scoreable piece of a retrieved document.

    `kind`: section (page content), template (a page's reply to customers) or
    resolution (a past ticket's staff reply). `key` is what is compared with the
    ticket: the passage itself, or for a resolution the question it answered.
    """

    document_id: str
    source: str
    title: str
    heading: str
    text: str
    kind: str
    key: str
    rank: int


def _is_heading(line: str, next_line: str | None) -> str | None:
    """The heading text if `line` is one (markdown, bold, or a short unpunctuated line)."""
    stripped = line.strip()
    if stripped.startswith("#"):
        return stripped.lstrip("#").strip()
    bold = _BOLD.match(stripped)
    if bold:
        return bold.group(1).strip()
    if (
        next_line is not None
        and 0 < len(stripped) <= MAX_HEADING_CHARS
        and not stripped.endswith((".", "!", "?", ":", ";", "…", ","))
        and not _LIST_OR_QUOTE.match(stripped)
        and not stripped.startswith(("`", "{", "}", "[", "]", "«", '"'))
    ):
        return stripped
    return None


def split_passages(body: str) -> list[tuple[str, str]]:
    """(heading, text) pieces of a section body; text before any heading has heading ''."""
    lines = [line for line in (body or "").splitlines() if line.strip()]
    pieces: list[tuple[str, list[str]]] = [("", [])]
    in_code = False
    for index, line in enumerate(lines):
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue  # code samples are for engineers and say little about the topic
        nxt = lines[index + 1] if index + 1 < len(lines) else None
        heading = _is_heading(line, nxt)
        if heading is not None:
            pieces.append((heading, []))
        else:
            pieces[-1][1].append(line.strip())
    return [(heading, "\n".join(text)) for heading, text in pieces if text]


def page_passages(
    document_id: str, source: str, title: str, rank: int, sections: Sequence[tuple[str, str]]
) -> list[Passage]:
    """Every passage of a page, in page order; reply templates are marked as such."""
    found = []
    for section, chunk_text in sections:
        body = section_body(chunk_text, title)
        if section and body.startswith(section.split(" › ")[-1]):
            body = body.split("\n", 1)[1] if "\n" in body else ""
        for inner, text in split_passages(body):
            heading = " › ".join(part for part in (section, inner) if part)
            kind = "template" if is_reply_heading(heading) else "section"
            key = f"{inner or section}\n{text}" if kind == "section" else text
            found.append(Passage(document_id, source, title, heading, text, kind, key, rank))
    return found


def ticket_passage(
    document_id: str, title: str, rank: int, chunks: Sequence[str]
) -> Passage | None:
    """A past ticket's staff reply as one passage, scored by the question it answered.

    Question-to-question similarity tells whether a past reply fits this ticket (it runs
    higher than reply-to-ticket similarity, so it favours past tickets over pages): a
    structural choice compared on the sample and its degraded copy (docs/answers.md).
    """
    replies, question = [], ""
    for text in chunks:
        if not question and (match := _QUESTION.search(text or "")):
            question = latest_message(match.group(1)).strip()
        if re.search(r"(?im)^\s*решение\s*:", text or "") or "Ответ:" in (text or ""):
            reply = resolution_text(text)
            if reply and reply not in replies:
                replies.append(reply)
    if not replies:
        return None
    text = "\n".join(replies)
    return Passage(document_id, "pyrus", title, "", text, "resolution", question or title, rank)


def _bag(text: str) -> set[str]:
    return set(terms(text))


def _stem_cosine(a: set[str], b: set[str]) -> float:
    """Cosine of two stem sets: length-normalised both ways, so long passages gain nothing."""
    return len(a & b) / math.sqrt(len(a) * len(b)) if a and b else 0.0


def lexical_similarity(query: str, texts: Sequence[str]) -> list[float]:
    """The stem-set cosine of the query with each text."""
    wanted = _bag(query)
    return [_stem_cosine(wanted, _bag(text)) for text in texts]


def _usable(embedder: object | None) -> bool:
    """An embedder cheap enough to embed every candidate passage live (not in-process e5)."""
    return embedder is not None and getattr(embedder, "cheap_passages", True)


def similarities(query: str, texts: Sequence[str], embedder: object | None) -> list[float]:
    """Lexical cosine, plus the embedder's cosine when the index has one.

    The two are summed (both are 0..1): the embedder catches paraphrase, the stems catch
    exact terms (error codes, field names) that an LSA or a remote model may blur.
    """
    lexical = lexical_similarity(query, texts)
    if not _usable(embedder) or not texts:
        return lexical
    try:
        vectors = np.asarray(embedder.embed([query, *texts]))  # type: ignore[attr-defined]
    except Exception as exc:  # a failing embedder only makes the choice lexical
        logger.warning("passage scoring falls back to lexical: %s", exc)
        return lexical
    cosine = vectors[1:] @ vectors[0]
    return [float(lex) + max(0.0, float(cos)) for lex, cos in zip(lexical, cosine, strict=True)]


@dataclass(frozen=True)
class Scored:
    passage: Passage
    score: float


def rank_passages(query: str, passages: Sequence[Passage], embedder: object | None) -> list[Scored]:
    """Passages best first (ties: earlier retrieval rank, then page order)."""
    scores = similarities(query, [p.key for p in passages], embedder)
    order = sorted(range(len(passages)), key=lambda i: (-scores[i], passages[i].rank, i))
    return [Scored(passages[i], scores[i]) for i in order]


def pairwise(texts: Sequence[str], embedder: object | None) -> np.ndarray:
    """Similarity matrix of `texts` (the same measure as `similarities`)."""
    bags = [_bag(text) for text in texts]
    n = len(texts)
    matrix = np.zeros((n, n), dtype=np.float32)
    for i in range(n):
        for j in range(i + 1, n):
            matrix[i, j] = matrix[j, i] = _stem_cosine(bags[i], bags[j])
    if _usable(embedder) and n:
        try:
            vectors = np.asarray(embedder.embed(list(texts)))  # type: ignore[attr-defined]
            matrix += np.clip(vectors @ vectors.T, 0.0, None)
        except Exception as exc:
            logger.warning("candidate agreement falls back to lexical: %s", exc)
    return matrix


def agreement(passages: Sequence[Passage], embedder: object | None) -> list[float]:
    """How much each candidate agrees with the best candidate from the *other* source.

    The right answer is usually found twice, independently: a page says it and the team
    already replied so in past tickets. A candidate that agrees with nothing from the
    other source is more likely an off-topic hit. Tickets of one recurring problem agree
    with each other, which is not independent evidence: only page↔ticket pairs count, and
    only the single best one — near-copies of one reply are one witness, so a page passage
    that matches three such replies gets no more support than one that matches one (with
    more it outranked the replies themselves). 0 for everyone when one source is missing.
    """
    matrix = pairwise([p.text for p in passages], embedder)
    out = []
    for i, passage in enumerate(passages):
        others = [
            float(matrix[i, j])
            for j, other in enumerate(passages)
            if other.source != passage.source
        ]
        out.append(max(others, default=0.0))
    return out
