"""Pure text helpers for suggestions: wrapping untrusted text, retrieval-only steps, drafts.

Kept apart from `suggest.py` so the suggester keeps the flow (retrieve → prompt → generate →
cite) while the wording rules for the retrieval-only fallback (steps from a page's fix
section, the reply template, a past ticket's resolution, the greeting and closing line)
live in one I/O-free module that is easy to test on its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.email_text import latest_message

# --- text helpers: wrapping untrusted text, retrieval-only steps and drafts ----------

_TAG = re.compile(r"</?\s*(?:ticket|sources|system|user)\s*>", re.IGNORECASE)
_LIST_ITEM = re.compile(r"^\s*(?:\d{1,2}[.)]|[-•*—])\s+(.+)$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[А-ЯЁA-Z«])")
_GREETING = re.compile(r"^(здравствуйте|добрый (день|вечер)|привет)[^\n]*$", re.IGNORECASE)
_SIGN_OFF = re.compile(
    r"^(с уважением|спасибо за обращение|служба поддержки|если вопрос останется)[^\n]*$"
    # a colleague's signature from a past reply: «Ольга, служба поддержки Pyrus»
    r"|^[^\n]{0,40}\b(служба|отдел|команда|специалист)\s+(технической\s+)?поддержки[^\n]{0,40}$",
    re.IGNORECASE,
)
_RESOLUTION_MARKERS = ("решение:", "ответ поддержки:", "ответ:", "resolution:")
CLOSING_LINE = "Если вопрос останется — ответьте на это сообщение, разберёмся."


def neutralize(text: str) -> str:
    """Untrusted text cannot close or open our prompt's blocks."""
    return _TAG.sub("[тег удалён]", text or "")


def section_body(text: str, title: str) -> str:
    """A chunk's text without the title/breadcrumb header the indexer puts first."""
    head, sep, body = (text or "").partition("\n\n")
    return body if sep and title and head.startswith(title.strip()) else text or ""


def steps_from_section(text: str, limit: int = 5) -> list[str]:
    """Steps from a page section: its list items, else its table rows, else its sentences.

    A troubleshooting table («| Причина | Как проверить | Что сделать |») gives one step
    per row, each cell named by its column: joined as prose it made one unreadable step.
    """
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    items = [m.group(1).strip() for line in lines if (m := _LIST_ITEM.match(line))]
    if len(items) < 2:
        items = table_steps([line for line in lines if line.startswith("|")])
    if not items:
        prose = " ".join(line for line in lines if not line.startswith(("#", "|")))
        items = [part.strip() for part in _SENTENCE_END.split(prose) if len(part.strip()) > 15]
    return [item[:400] for item in items[:limit]]


_TABLE_RULE = re.compile(r"^:?-{3,}:?$")
_NUMBER_HEADER = re.compile(r"^(#|№|n|no\.?|шаг)$", re.IGNORECASE)


def table_steps(rows: Sequence[str]) -> list[str]:
    """One step per data row of a pipe table: «first cell — column: cell; column: cell»."""
    cells = [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in rows]
    cells = [row for row in cells if not all(_TABLE_RULE.match(cell) for cell in row if cell)]
    if len(cells) < 2:
        return []
    header, body = cells[0], cells[1:]
    keep = [i for i, name in enumerate(header) if not _NUMBER_HEADER.match(name)]
    steps = []
    for row in body:
        values = [(header[i], row[i]) for i in keep if i < len(row) and row[i]]
        if not values:
            continue
        (_, lead), rest = values[0], values[1:]
        named = "; ".join(f"{name[:1].lower()}{name[1:]}: {value}" for name, value in rest if name)
        steps.append(f"{lead} — {named}" if named else lead)
    return steps


_FIX_SECTIONS = (
    "решение",
    "как исправить",
    "что делать",
    "порядок действий",
    "пошагово",
    "шаги",
    "как настроить",
    "что проверить",
    "как проверить",
)
_REPLY_SECTIONS = ("что ответить клиенту", "шаблон ответа", "ответ клиенту")
_QUOTE_PREFIX = re.compile(r"^\s*>\s?")
_LEADING_GREETING = re.compile(
    r"^(здравствуйте|добрый (день|вечер)|доброе утро|привет)[^!.\n]*[!.]?\s*", re.IGNORECASE
)
_PANEL_LINE = re.compile(r"^\s*панель\s*:.*$", re.IGNORECASE)


def _section_matching(
    sections: Sequence[tuple[str, str]], names: Sequence[str]
) -> tuple[str, str] | None:
    for section, text in sections:
        lowered = (section or "").lower()
        if any(name in lowered for name in names):
            return section, text
    return None


def fix_steps(sections: Sequence[tuple[str, str]], title: str) -> list[str]:
    """Steps from a page's fix section («Решение», «Что делать», …), if it has one.

    No longer used by the suggester (`compose` picks the passage that fits the ticket);
    kept as the naive baseline's logic and for callers outside the bot.
    """
    found = _section_matching(sections, _FIX_SECTIONS)
    return steps_from_section(section_body(found[1], title)) if found else []


def reply_template(sections: Sequence[tuple[str, str]], title: str) -> str:
    """The page's «Что ответить клиенту» template without quote marks and greeting."""
    found = _section_matching(sections, _REPLY_SECTIONS)
    if not found:
        return ""
    lines = [
        _LEADING_GREETING.sub("", _QUOTE_PREFIX.sub("", line).strip())
        for line in section_body(found[1], title).splitlines()
    ]
    kept = [
        line for line in lines if line and not _PANEL_LINE.match(line) and not _SIGN_OFF.match(line)
    ]
    return "\n".join(kept).strip()[:1500]


def resolution_text(ticket_text: str) -> str:
    """The agent's answer inside a past ticket's text, without greeting or sign-off."""
    text = ticket_text or ""
    lowered = text.lower()
    for marker in _RESOLUTION_MARKERS:
        index = lowered.rfind(marker)
        if index >= 0:
            text = text[index + len(marker) :]
            break
    else:
        if re.search(r"(?im)^\s*вопрос\s*:", text):
            return ""  # only the customer's question: nothing to adapt
        paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
        text = paragraphs[-1] if paragraphs else ""
    # a reply sent by e-mail quotes the customer it answered: never reuse their words
    lines = [line.strip() for line in latest_message(text).strip().splitlines()]
    kept = [
        line for line in lines if line and not _GREETING.match(line) and not _SIGN_OFF.match(line)
    ]
    return "\n".join(kept).strip()[:1500]


def _greeting(customer_name: str | None) -> str:
    return f"Здравствуйте, {customer_name}!" if customer_name else "Здравствуйте!"


def draft_from_resolution(
    ticket_text: str,
    steps: list[str],
    customer_name: str | None,
    *,
    already_extracted: bool = False,
) -> str:
    """A draft reply: the closest past resolution, else the page's steps, in our tone.

    No knowledge-base links: the pages are internal and the customer cannot open them
    (the employee sees them among the sources).
    """
    body = ticket_text.strip() if already_extracted else resolution_text(ticket_text)
    if not body and steps:
        numbered = "\n".join(f"{i}. {step}" for i, step in enumerate(steps, 1))
        body = f"Спасибо за обращение. Попробуйте, пожалуйста, так:\n{numbered}"
    if not body:
        body = "Спасибо за обращение. Мы разбираемся с вопросом и вернёмся с ответом."
    parts = [_greeting(customer_name), body]
    if CLOSING_LINE not in body:
        parts.append(CLOSING_LINE)
    return "\n\n".join(parts)


def draft_when_nothing_found(customer_name: str | None) -> str:
    """Nothing relevant in the knowledge base: ask for details, promise nothing."""
    return "\n\n".join(
        [
            _greeting(customer_name),
            "Спасибо за обращение. Чтобы разобраться, уточните, пожалуйста: что именно вы делали, "
            "какое сообщение увидели (лучше со скриншотом) и когда это началось.",
            CLOSING_LINE,
        ]
    )
