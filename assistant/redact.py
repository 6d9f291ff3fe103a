"""Mask personal data in ticket text before it leaves for retrieval logs or the LLM.

The query the bot builds from a ticket is sent to the organisation's LLM and stored in
the suggestion log, so customer identifiers (emails, phones, card numbers, contract
numbers, tokens and keys) are replaced by typed placeholders such as `[email]`. The
masking is regex-based and deliberately greedy: losing a digit sequence from a query
costs little, leaking a card number costs a lot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Order matters: longer, more specific patterns first, so a card number is not
# half-eaten by the phone pattern and a URL token is not taken for a contract.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
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
