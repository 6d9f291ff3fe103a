"""The sender of a ticket: the name to greet by, and their own identifiers masked.

A display name can hold an e-mail or a phone instead of a name, and the draft must not
greet «Здравствуйте, ivan.petrov@mail.ru!».
"""

from __future__ import annotations

import re

from assistant.masking.rules import redact

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
