"""The reply-text rules: what a line of a page or a past reply is, and how a draft reads.

One I/O-free module for every wording rule the bot applies to text — wrapping untrusted
text for the prompt, cutting steps out of a page section, finding the staff answer in a
past ticket, dropping greetings, sign-offs, panels and link lists, and wrapping a draft
in our greeting and closing line (and, for the evaluations, taking it off again).
Which passage answers a ticket is chosen elsewhere (`answer_selection.py`, `compose.py`);
this module only says what a piece of text is and how it is cleaned.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.email_text import latest_message

CLOSING_LINE = "Если вопрос останется — ответьте на это сообщение, разберёмся."
# Headings of a page's reply to customers («Что ответить клиенту»): a draft, not steps.
REPLY_HEADINGS = ("что ответить клиенту", "шаблон ответа", "ответ клиенту")

_TAG = re.compile(r"</?\s*(?:ticket|sources|system|user)\s*>", re.IGNORECASE)
_LIST_ITEM = re.compile(r"^\s*(?:\d{1,2}[.)]|[-•*—])\s+(.+)$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[А-ЯЁA-Z«])")
_TABLE_RULE = re.compile(r"^:?-{3,}:?$")
_NUMBER_HEADER = re.compile(r"^(#|№|n|no\.?|шаг)$", re.IGNORECASE)
# A greeting at the start of a line, with the name after it: «Добрый день, Ольга!»
_GREETING = re.compile(
    r"^(здравствуйте|добрый (день|вечер)|доброе утро|привет)[^!.\n]*[!.]?\s*", re.IGNORECASE
)
_SIGN_OFF = re.compile(
    r"^(с уважением|спасибо за обращение|служба поддержки|если вопрос останется)"
    # a colleague's signature from a past reply: «Ольга, служба поддержки Pyrus»
    r"|^[^\n]{0,40}\b(служба|отдел|команда|специалист)\s+(технической\s+)?поддержки[^\n]{0,40}$",
    re.IGNORECASE,
)
_QUOTE_PREFIX = re.compile(r"^\s*>\s?")
_PANEL = re.compile(r"^\s*панель\s*:", re.IGNORECASE)
_NOT_PROSE = re.compile(r"^\s*(?:\||```|\{|\}|json|POST |GET )")
_REFERENCE_ONLY = re.compile(r"^\s*[«\"][^»\"]+[»\"]\s*\.?\s*$")
# Headings of passages that are close to a ticket by construction but answer nothing.
_NOT_AN_ANSWER = re.compile(
    r"симптом|проблема|как выглядит|статьи раздела|см\. также|связанные|что такое|пример",
    re.IGNORECASE,
)
_RESOLUTION_MARKERS = ("решение:", "ответ поддержки:", "ответ:", "resolution:")


# --- what a piece of text is --------------------------------------------------------------


def neutralize(text: str) -> str:
    """Untrusted text cannot close or open our prompt's blocks."""
    return _TAG.sub("[тег удалён]", text or "")


def section_body(text: str, title: str) -> str:
    """A chunk's text without the title/breadcrumb header the indexer puts first."""
    head, sep, body = (text or "").partition("\n\n")
    return body if sep and title and head.startswith(title.strip()) else text or ""


def is_reply_heading(heading: str) -> bool:
    """True for a page section that is a reply to customers («Шаблон ответа»)."""
    lowered = heading.lower()
    return any(name in lowered for name in REPLY_HEADINGS)


def answers_nothing(heading: str, text: str) -> bool:
    """A symptom list, a link list or a definition: close to a ticket, yet no answer."""
    lines = [line for line in text.splitlines() if line.strip()]
    links_only = all(_REFERENCE_ONLY.match(line.lstrip("-•* ")) for line in lines)
    return links_only or bool(_NOT_AN_ANSWER.search(heading))


def reads_as_reply(text: str) -> bool:
    """True when the text's first line greets someone: it is a reply, not instructions."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return bool(_GREETING.match(_QUOTE_PREFIX.sub("", first).strip()))


# --- steps ------------------------------------------------------------------------------


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


def passage_steps(text: str) -> list[str]:
    """Steps of a passage without bare references to other pages («Название статьи»),
    greetings or sign-offs."""
    return [
        step
        for step in steps_from_section(text)
        if not _REFERENCE_ONLY.match(step)
        and not _SIGN_OFF.match(step)
        and _GREETING.sub("", step).strip()
    ]


# --- draft text -------------------------------------------------------------------------


def customer_lines(text: str) -> str:
    """A candidate's lines as a draft body: no quote marks, greetings, sign-offs, panels
    («Панель: …») or non-prose lines (tables, code, JSON, HTTP requests)."""
    lines = []
    for raw in text.splitlines():
        line = _GREETING.sub("", _QUOTE_PREFIX.sub("", raw).strip()).strip()
        if not line or _PANEL.match(line) or _SIGN_OFF.match(line) or _NOT_PROSE.match(line):
            continue
        lines.append(line)
    return "\n".join(lines)


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


def draft_body(draft: str) -> str:
    """A draft without our greeting paragraph and closing line (they are not content):
    what the evaluations compare with a reference answer."""
    parts = [part for part in draft.split("\n\n") if part.strip()]
    if parts and parts[0].startswith("Здравствуйте"):
        parts = parts[1:]
    return "\n\n".join(part for part in parts if part.strip() != CLOSING_LINE)
