"""Documents → retrievable chunks.

A Confluence page is converted from storage XHTML (see `storage_format`) and cut at
h1–h3 headings; each chunk starts with the page title and the section breadcrumb
(«VPN-агент › Перезапуск»), so a chunk about «Перезапуск» still says what it is about.
Code blocks and tables are never split. A ticket becomes a question chunk and a
resolution chunk (the resolution repeats the start of the question for context).

Chunk ids are `<document_id>#<hash of the chunk text>`: an unchanged section keeps its
id when text is inserted above it, so incremental indexing re-embeds only what changed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from assistant.email_text import latest_message
from assistant.knowledge.index.storage_format import storage_to_text

MAX_CHUNK_CHARS = 1200
HARD_MAX_CHARS = 4000
QUESTION_CONTEXT_CHARS = 300

_HEADING = re.compile(r"^(#{1,6}) (.+)$")
_TICKET_PARTS = re.compile(r"(?im)^\s*(вопрос|решение)\s*:\s*")


@dataclass(frozen=True)
class KbDocument:
    """One row of `marts.kb_documents`."""

    document_id: str
    source: str
    title: str
    url: str
    body: str
    category_code: str | None = None
    updated_at: datetime | None = None
    content_hash: str | None = None
    is_deleted: bool = False


@dataclass(frozen=True)
class Chunk:
    """A piece of a document: `text` is what gets embedded and indexed."""

    chunk_id: str
    document_id: str
    ordinal: int
    source: str
    title: str
    url: str
    category_code: str | None
    section: str
    text: str
    content_hash: str


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def looks_like_storage(body: str) -> bool:
    """True for XHTML bodies (storage format or plain HTML)."""
    return bool(re.search(r"<(?:p|h[1-6]|ac:[a-z-]+|table|ul|ol|div|br)\b", body))


def chunk_document(doc: KbDocument) -> list[Chunk]:
    """Chunk one document according to its source; empty bodies give no chunks."""
    if doc.source == "pyrus" or (
        not looks_like_storage(doc.body) and _TICKET_PARTS.search(doc.body)
    ):
        pieces = _ticket_pieces(doc.body)
    else:
        text = storage_to_text(doc.body) if looks_like_storage(doc.body) else doc.body.strip()
        pieces = _page_pieces(text)
    return _make_chunks(doc, pieces)


def _make_chunks(doc: KbDocument, pieces: list[tuple[str, str]]) -> list[Chunk]:
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    title = doc.title.strip()
    for section, body in pieces:
        body = body.strip()
        if not body:
            continue
        header = title if not section else f"{title}\n{section}"
        text = f"{header}\n\n{body}" if header else body
        digest = sha256(text)
        base_id = f"{doc.document_id}#{digest[:12]}"
        count = seen.get(base_id, 0)
        seen[base_id] = count + 1
        chunk_id = base_id if count == 0 else f"{base_id}-{count}"
        chunks.append(
            Chunk(
                chunk_id=chunk_id,
                document_id=doc.document_id,
                ordinal=len(chunks),
                source=doc.source,
                title=title,
                url=doc.url,
                category_code=doc.category_code,
                section=section,
                text=text,
                content_hash=digest,
            )
        )
    return chunks


def _ticket_pieces(body: str) -> list[tuple[str, str]]:
    parts = _TICKET_PARTS.split(body)
    question = resolution = ""
    if len(parts) >= 3:
        preamble = parts[0].strip()
        for label, content in zip(parts[1::2], parts[2::2], strict=False):
            if label.lower() == "вопрос":
                question = (question + "\n" + content).strip()
            else:
                resolution = (resolution + "\n" + content).strip()
        question = (preamble + "\n" + question).strip()
    else:
        question = body.strip()
    # Tickets from e-mail carry the quoted thread and signatures, and a staff reply quotes the
    # customer: index the newest messages only (`assistant/email_text.py`).
    question, resolution = latest_message(question), latest_message(resolution)
    pieces = [("", f"Вопрос: {part}") for part in _pack([question])] if question else []
    if resolution:
        context = question[:QUESTION_CONTEXT_CHARS].rstrip()
        if len(question) > QUESTION_CONTEXT_CHARS:
            context += "…"
        for part in _pack([resolution], budget=MAX_CHUNK_CHARS - len(context)):
            pieces.append(("", f"Вопрос: {context}\nРешение: {part}"))
    return pieces


def _page_pieces(text: str) -> list[tuple[str, str]]:
    """Split Markdown-ish text at h1–h3 into (breadcrumb, body) pieces."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    trail: list[tuple[int, str]] = []
    in_code = False
    for line in text.split("\n"):
        if line.startswith("```"):
            in_code = not in_code
        match = None if in_code else _HEADING.match(line)
        if match and len(match.group(1)) <= 3:
            level = len(match.group(1))
            trail = [(lvl, name) for lvl, name in trail if lvl < level]
            trail.append((level, match.group(2).strip()))
            sections.append((" › ".join(name for _, name in trail), []))
        elif match:
            sections[-1][1].append(f"**{match.group(2).strip()}**")
        else:
            sections[-1][1].append(line)
    pieces: list[tuple[str, str]] = []
    for breadcrumb, lines in sections:
        for part in _pack(_blocks("\n".join(lines))):
            pieces.append((breadcrumb, part))
    return pieces


def _blocks(text: str) -> list[str]:
    """Blank-line separated blocks; a fenced code block is one block even with blank lines."""
    blocks: list[str] = []
    current: list[str] = []
    in_code = False
    for line in text.split("\n"):
        if line.startswith("```"):
            in_code = not in_code
        if not line.strip() and not in_code:
            if current:
                blocks.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return [block for block in blocks if block.strip()]


def _pack(blocks: list[str], budget: int = MAX_CHUNK_CHARS) -> list[str]:
    """Greedily pack blocks into pieces of about `budget` chars without splitting a block.

    A block longer than `HARD_MAX_CHARS` (a huge table or log) is cut at line breaks.
    """
    pieces: list[str] = []
    current = ""
    for block in blocks:
        for part in _split_oversized(block):
            if current and len(current) + len(part) + 2 > budget:
                pieces.append(current)
                current = part
            else:
                current = f"{current}\n\n{part}" if current else part
    if current:
        pieces.append(current)
    return pieces


def _split_oversized(block: str) -> list[str]:
    if len(block) <= HARD_MAX_CHARS:
        return [block]
    parts: list[str] = []
    current = ""
    for line in block.split("\n"):
        while len(line) > HARD_MAX_CHARS:
            parts.append(line[:HARD_MAX_CHARS])
            line = line[HARD_MAX_CHARS:]
        if current and len(current) + len(line) + 1 > HARD_MAX_CHARS:
            parts.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        parts.append(current)
    return parts
