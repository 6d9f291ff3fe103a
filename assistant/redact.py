"""Mask personal data in ticket text before it leaves for the index, logs or the LLM.

The query the bot builds from a ticket is sent to the organisation's LLM and stored in
the suggestion log, so customer identifiers (emails, phones, card numbers, contract
numbers, Russian identity documents — passport, SNILS, INN, OMS policy, driver licence —
tokens and keys) are replaced by typed placeholders such as `[email]`. The masking is
regex-based and deliberately greedy: losing a digit sequence from a query costs little,
leaking a passport number costs a lot.

The sender is handled apart (`mask_person`, `greeting_name`): a display name can hold an
e-mail or a phone instead of a name, and the draft must not greet «Здравствуйте,
ivan.petrov@mail.ru!».
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Order matters: longer, more specific patterns first, so a card number is not
# half-eaten by the phone pattern and a URL token is not taken for a contract.
_NUM = r"(?:№|n|no\.?|номер|ном\.)?"  # an optional "number" word between parts
_DOCUMENT_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    # Driver licence: «ВУ 77 12 345678», «водительское удостоверение 99 АА 123456».
    (
        "driver_licence",
        re.compile(
            r"(?i)(?:водительск[а-яё]*\s+удостоверени[а-яё]*|водительск[а-яё]*\s+прав[а-яё]*"
            r"|\bв/у|\bву\b)\s*[:.]?\s*(?:серия\s*)?"
            rf"\d{{2}}\s?(?:\d{{2}}|[А-ЯЁA-Z]{{2}})\s*{_NUM}\s*[:.]?\s*\d{{6}}(?!\d)"
        ),
    ),
    # OMS policy: 16 digits (or a series and number) after «полис»/«ОМС».
    (
        "oms",
        re.compile(
            r"(?i)(?:полис[а-яё]*(?:\s+омс)?|\bомс\b)\s*[:№]?\s*(?:серия\s*)?"
            r"(?:[А-ЯЁA-Z]{2,4}\s*)?\d[\d\s№-]{4,22}\d"
        ),
    ),
    # SNILS: «123-456-789 01» (11 digits), with or without the word.
    ("snils", re.compile(r"(?i)снилс[а-яё]*\s*[:№]?\s*\d{3}[\s-]?\d{3}[\s-]?\d{3}[\s-]?\d{2}")),
    ("snils", re.compile(r"(?<![\d-])\d{3}-\d{3}-\d{3}[\s-]\d{2}(?![\d-])")),
    # INN: 10 (company) or 12 (person) digits after «ИНН»; a bare 12-digit run too.
    ("inn", re.compile(r"(?i)\bинн(?:/кпп)?\s*[:№]?\s*\d{10}(?:\d{2})?(?:\s*/\s*\d{9})?")),
    ("inn", re.compile(r"(?<!\d)\d{12}(?!\d)")),
    # Passport: «паспорт 4510 123456», «серия 45 10 номер 654321», «паспорт РФ: 45 10 № 123456».
    (
        "passport",
        re.compile(
            r"(?i)(?:паспорт[а-яё]*(?:\s+рф)?|серия)\s*[:.]?\s*(?:серия\s*)?[:.]?\s*"
            rf"\d{{2}}\s?\d{{2}}\s*[,;]?\s*{_NUM}\s*[:.]?\s*\d{{6}}(?!\d)"
        ),
    ),
    ("passport", re.compile(r"(?<![\d-])\d{2}\s?\d{2}\s+№?\s*\d{6}(?![\d-])")),
]

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    *_DOCUMENT_PATTERNS,
    ("email", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)),
    (
        "token",
        re.compile(
            r"\b(?:eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]{5,}"  # JWT
            r"|(?:sk|pk|rk|ghp|gho|xox[abp])[-_][\w-]{12,}"  # API-key prefixes
            r"|Bearer\s+[\w.~+/=-]{12,}"
            r"|[A-Fa-f0-9]{32,}"  # long hex (secrets, hashes)
            r"|(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{32,})"
        ),
    ),
    ("card", re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")),
    (
        "contract",
        re.compile(
            r"(?i)(?:договор[а-яё]*|контракт[а-яё]*|счет[а-яё]*|счёт[а-яё]*|заказ[а-яё]*"
            r"|contract|invoice|order)\s*(?:№|#|n|no\.?|номер)?\s*[:.]?\s*"
            r"[A-Za-zА-Яа-яЁё0-9]*\d[A-Za-zА-Яа-яЁё0-9/_-]*"
        ),
    ),
    ("contract", re.compile(r"№\s*[A-Za-zА-Яа-яЁё0-9/_-]*\d[A-Za-zА-Яа-яЁё0-9/_-]*")),
    (
        "phone",
        re.compile(r"(?<![\w+])(?:\+7|8|7)?[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}(?!\d)"),
    ),
    ("phone", re.compile(r"(?<![\w+])\+\d[\d\s()-]{8,16}\d(?!\d)")),
]


@dataclass(frozen=True)
class Redaction:
    """The masked text and how many items of each kind were replaced."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)


def redact_with_counts(text: str) -> Redaction:
    """Replace personal data with `[kind]` placeholders and count the replacements."""
    counts: dict[str, int] = {}
    result = text
    for kind, pattern in _PATTERNS:

        def _replace(match: re.Match[str], kind: str = kind) -> str:
            counts[kind] = counts.get(kind, 0) + 1
            if kind == "contract" and not match.group(0).startswith("№"):
                # keep the keyword ("договор [contract]"): it helps retrieval
                keyword = re.match(r"[A-Za-zА-Яа-яЁё]+", match.group(0))
                return f"{keyword.group(0) if keyword else ''} [contract]".lstrip()
            return f"[{kind}]"

        result = pattern.sub(_replace, result)
    return Redaction(text=result, counts=counts)


def redact(text: str) -> str:
    """The masked text only."""
    return redact_with_counts(text).text


# --- the sender -------------------------------------------------------------------------

_NAME_WORD = re.compile(r"^[A-Za-zА-Яа-яЁё]+(?:[-'][A-Za-zА-Яа-яЁё]+)?$")
# Display names that are a role or a mailbox, not a person to greet.
_NOT_NAMES = frozenset(
    {
        "admin", "administrator", "info", "support", "noreply", "no-reply", "mail", "office",
        "sales", "client", "customer", "user", "test", "team", "hr",
        "администратор", "админ", "клиент", "пользователь", "поддержка", "служба", "отдел",
        "бухгалтерия", "офис", "менеджер", "компания", "ооо", "оао", "зао", "пао", "ип",
        "гбу", "мбоу", "уважаемый", "уважаемая", "тест", "заявитель", "группа", "команда",
    }
)  # fmt: skip
MAX_NAME_CHARS = 30
# A sign-off followed by a name: «С уважением, Иван Петров» / «Best regards,\nIvan».
_SIGN_OFF = re.compile(
    r"(?i:с\s+уважением|с\s+наилучшими\s+пожеланиями|всего\s+доброго|best\s+regards"
    r"|kind\s+regards|regards)[,.!]?[ \t]*\n?[ \t]*"
    r"([А-ЯЁA-Z][а-яёa-z]+(?:-[А-ЯЁA-Z][а-яёa-z]+)?(?:[ \t]+[А-ЯЁA-Z][а-яёa-z.]*){0,2})"
)


def greeting_name(display_name: str | None) -> str | None:
    """The first name to greet by, or None when the display name is not a plausible name.

    A plausible first name is one word of letters (a hyphen or apostrophe allowed), 2 to 30
    characters, not a role or mailbox word such as «Поддержка» or `info`. An e-mail, a phone,
    digits or markup in the name give None: the draft then greets without a name.
    """
    if not display_name:
        return None
    words = display_name.split()
    if not words or len(words) > 4:
        return None
    first = words[0].strip(",.;:")
    if not (2 <= len(first) <= MAX_NAME_CHARS) or not _NAME_WORD.match(first):
        return None
    if first.lower() in _NOT_NAMES or any(w.lower().strip(",.") in _NOT_NAMES for w in words):
        return None
    if first.isupper() or first.islower():
        first = first.capitalize()  # «ИВАН» / «иван» → «Иван»
    return first


def mask_person(text: str, *, name: str | None = None, identifiers: tuple[str, ...] = ()) -> str:
    """`redact(text)` plus the sender's own name words, e-mail and phone as `[name]`/`[contact]`.

    The generic patterns miss a name and can miss an odd e-mail or phone format; the
    sender's exact values are known, so they are removed literally (case-insensitive)
    before the patterns run. A name after a sign-off («С уважением, Иван Петров») is
    masked even when the display name is an e-mail: e-mail threads sign that way.
    """
    result = _SIGN_OFF.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)] + "[name]", text)
    name = (name or "").strip()
    if "@" in name or any(ch.isdigit() for ch in name):
        identifiers, name = (*identifiers, name), ""  # an e-mail or phone in the name field
    for value in identifiers:
        value = (value or "").strip()
        if len(value) >= 5:
            result = re.sub(re.escape(value), "[contact]", result, flags=re.IGNORECASE)
    for word in name.replace(",", " ").split():
        if len(word) >= 3 and _NAME_WORD.match(word) and word.lower() not in _NOT_NAMES:
            pattern = rf"(?<![\w-]){re.escape(word)}(?![\w-])"
            result = re.sub(pattern, "[name]", result, flags=re.IGNORECASE)
    return redact(result)
