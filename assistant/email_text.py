"""The newest message of an e-mail-shaped text: no quoted history, signature or disclaimer.

Why: tickets that arrive by e-mail carry the whole thread — the customer's new message on
top, then «-----Original Message-----», an Outlook «От: … Отправлено: …» header block or a
Gmail/Yandex «<date>, Name <mail>:» line and everything said before, often a signature
with phones and a legal disclaimer. Staff replies sent by e-mail quote the customer the
same way. Left in, that text (a) steers search and the category toward old or unrelated
topics, and (b) worse, a past staff reply reused as a draft would carry another
customer's quoted words to this customer. So the bot searches by, and drafts from, the
newest message only.

Cutting is conservative: only well-known reply headers and quote marks end the message;
a sign-off («С уважением», «Best regards», a bare «Спасибо») ends it only when what
follows is short enough to be a signature. When the newest message only hands over an
older one (a «Forwarded message» block, «Пересылаю письмо клиента», «см. ниже»), the
forwarded text *is* the problem: the whole text is kept, without quote marks and header
blocks. A short reply on top of a quote («Ещё раз проверьте.») stays short.
"""

from __future__ import annotations

import re

# A line that starts the quoted history: everything from it on is an older message.
_REPLY_HEADERS = (
    # -----Original Message----- / -----Исходное сообщение----- / ---------- Forwarded message ---
    re.compile(
        r"^\s*-{2,}\s*(original message|исходное сообщение|пересланное сообщение|"
        r"пересылаемое сообщение|forwarded message|начало пересылаемого сообщения)\s*:?\s*-*\s*$",
        re.IGNORECASE,
    ),
    # Gmail / Yandex / Mail.ru: «пн, 2 дек. 2024 г. в 10:15, Иван <ivan@example.ru>:»,
    # «02.12.2024, 10:15, "Иван" <ivan@example.ru>:», «… от Иван <ivan@example.ru>:»
    re.compile(
        r"^.{0,200}<[^<>\s@]+@[^<>\s]+>\s*(пишет|написал\(а\)|написала?|wrote)?\s*:\s*$",
        re.IGNORECASE,
    ),
    # Apple Mail / Outlook.com: «2 дек. 2024 г., в 10:15, Иван Петров написал(а):», «On …, X wrote:»
    # (a time is required: «Система пишет:» before an error message is the customer's own text)
    re.compile(
        r"^.{0,200}\d{1,2}:\d{2}.{0,200}\b(пишет|написал\(а\)|написала?|wrote)\s*:\s*$",
        re.IGNORECASE,
    ),
)
# Outlook's header block: «От:»/«From:» followed within a few lines by «Отправлено:»/«Sent:»…
_FROM_LINE = re.compile(r"^\s*\*?(от|from)\s*:\*?\s*\S", re.IGNORECASE)
_HEADER_FIELD = re.compile(
    r"^\s*\*?(отправлено|sent|дата|date|кому|to|тема|subject|копия|cc)\s*:\*?", re.IGNORECASE
)
_QUOTED = re.compile(r"^\s*>")
_SIGN_OFF = re.compile(
    r"^\s*(с уважением|с наилучшими пожеланиями|всего доброго|best regards|kind regards|regards|"
    r"заранее спасибо|спасибо|--)\s*[,.!]?\s*$",
    re.IGNORECASE,
)
_MOBILE_FOOTER = re.compile(r"^\s*(отправлено|sent)\s+(с|со|из|from)\s+.{0,60}$", re.IGNORECASE)
_DISCLAIMER = re.compile(
    r"(конфиденциальн\w*.{0,200}(предназначен|получател|адресат))"
    r"|(confidential.{0,200}(intended|recipient))",
    re.IGNORECASE | re.DOTALL,
)
_FORWARD_HEADER = re.compile(
    r"^\s*-{2,}\s*(пересланное|пересылаемое|forwarded|начало пересылаемого)", re.IGNORECASE
)
_FORWARD_WORDS = re.compile(r"пересыла|переслал|\bfwd?\b|forward|см\.?\s*ниже", re.IGNORECASE)
SIGNATURE_MAX_LINES = 6
SIGNATURE_MAX_CHARS = 400
FORWARD_NOTE_LETTERS = 80  # «Пересылаю письмо клиента, посмотрите» — a note, not a message
EMPTY_MESSAGE_LETTERS = 12  # «См. ниже», «FYI»: nothing of its own


def _history_start(lines: list[str]) -> int | None:
    """Index of the first line of quoted history, if any."""
    for index, line in enumerate(lines):
        if _QUOTED.match(line) or any(header.match(line) for header in _REPLY_HEADERS):
            return index
        if _FROM_LINE.match(line) and any(
            _HEADER_FIELD.match(following) for following in lines[index + 1 : index + 5]
        ):
            return index
    return None


def _without_signature(lines: list[str]) -> list[str]:
    """Lines up to the last sign-off that is followed only by a short signature block."""
    for index in range(len(lines) - 1, 0, -1):
        if _SIGN_OFF.match(lines[index]):
            tail = [line for line in lines[index + 1 :] if line.strip()]
            if len(tail) <= SIGNATURE_MAX_LINES and sum(map(len, tail)) <= SIGNATURE_MAX_CHARS:
                return lines[:index]
            break
    return lines


def _without_noise(text: str) -> str:
    """Drop mobile-client footers and legal disclaimer paragraphs."""
    paragraphs = re.split(r"\n\s*\n", text)
    kept = []
    for paragraph in paragraphs:
        if _DISCLAIMER.search(paragraph):
            continue
        lines = [line for line in paragraph.splitlines() if not _MOBILE_FOOTER.match(line)]
        if any(line.strip() for line in lines):
            kept.append("\n".join(lines))
    return "\n\n".join(kept)


def _letters(text: str) -> int:
    return sum(char.isalpha() for char in text)


def _unquoted(lines: list[str]) -> str:
    """The whole thread as plain text: quote marks and reply header blocks removed."""
    out = []
    skipping_header = False
    for line in lines:
        if any(header.match(line) for header in _REPLY_HEADERS) or _FROM_LINE.match(line):
            skipping_header = True
            continue
        if skipping_header and _HEADER_FIELD.match(line):
            continue
        skipping_header = False
        out.append(line.lstrip(" \t>").strip())
    return "\n".join(out)


def latest_message(text: str) -> str:
    """The newest message of `text` (see module doc); any other text comes back unchanged."""
    if not text:
        return ""
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = normalized.split("\n")
    start = _history_start(lines)
    newest = lines if start is None else lines[:start]
    cleaned = _without_noise("\n".join(_without_signature(newest))).strip()
    if start is not None and _is_forward(cleaned, lines[start]):
        # «Пересылаю письмо клиента»: the problem is in the forwarded part
        return _without_noise(_unquoted(lines)).strip()
    return cleaned if cleaned else normalized.strip()


def _is_forward(newest: str, history_header: str) -> bool:
    """The newest message only hands over the older one (a reply on top of a quote is not)."""
    letters = _letters(newest)
    return (
        bool(_FORWARD_HEADER.match(history_header))
        or letters < EMPTY_MESSAGE_LETTERS
        or (letters < FORWARD_NOTE_LETTERS and bool(_FORWARD_WORDS.search(newest)))
    )
