"""The organisation's own contacts: not personal data, so masking keeps them.

A draft that says «напишите в поддержку на [email]» is useless: the support address is
the organisation's, printed in its knowledge base and in dozens of staff replies. A
contact is public when

* it is on the configured allow-list (`PUBLIC_CONTACTS`: e-mails, phones, domains —
  `@example.ru` or `example.ru` — or any literal text such as an office address), or
* it is an e-mail at one of the organisation's domains (the allow-listed domains and
  the domains of the staff's own accounts), or
* it appears in at least `MIN_SOURCES` distinct sources — knowledge-base pages and
  staff replies to distinct customers. A customer's own e-mail or phone appears in that
  customer's tickets only, and the example addresses a page or two quote stay below the
  threshold.

In production the dbt model `kb_public_contacts` (dbt_project/models/marts/knowledge)
computes the list from raw pages and staff replies before `kb_documents` is masked; the
bot loads it (`load_public_contacts`). `from_documents` applies the same rule to a BEIR
corpus for `kb eval answers`. Masking sets public contacts aside (`shelve`) and puts
them back after every rule has run, so no rule can eat part of one.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import psycopg

from assistant.masking.rules import EMAIL as _EMAIL
from assistant.masking.rules import PHONES as _PHONES

logger = logging.getLogger(__name__)

MIN_SOURCES = 3
"""Distinct pages / customers a contact must appear in to count as the organisation's."""

_DOMAIN = re.compile(r"^@?([a-z0-9-]+(?:\.[a-z0-9-]+)+)$", re.IGNORECASE)
_SENTINEL = "\ue000{}\ue001"  # private-use characters: no rule matches them


def normalize_phone(text: str) -> str:
    """A phone's comparable form: a Russian number as its 10 national digits."""
    digits = re.sub(r"\D", "", text)
    if len(digits) == 11 and digits[0] in "78":
        return digits[1:]
    return digits


def find_contacts(text: str) -> list[tuple[str, str, int, int]]:
    """(kind, normalized value, start, end) of each e-mail and phone in the text."""
    found = [("email", m.group(0).lower(), m.start(), m.end()) for m in _EMAIL.finditer(text)]
    taken = [(start, end) for _, _, start, end in found]
    for pattern in _PHONES:
        for m in pattern.finditer(text):
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            taken.append((m.start(), m.end()))
            found.append(("phone", normalize_phone(m.group(0)), m.start(), m.end()))
    return found


@dataclass(frozen=True)
class PublicContacts:
    """E-mails, phones (normalized), domains and literal texts that masking keeps."""

    emails: frozenset[str] = frozenset()
    phones: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    texts: tuple[str, ...] = ()

    @classmethod
    def from_allow_list(cls, items: Iterable[str]) -> PublicContacts:
        """Classify each configured item: e-mail, domain, phone or literal text."""
        emails, phones, domains, texts = set(), set(), set(), []
        for raw in items:
            item = raw.strip()
            if not item:
                continue
            if _EMAIL.fullmatch(item):
                emails.add(item.lower())
            elif _DOMAIN.match(item):
                domains.add(_DOMAIN.match(item).group(1).lower())  # type: ignore[union-attr]
            elif len(re.sub(r"\D", "", item)) >= 7 and not re.search(r"[^\d\s()+-]", item):
                phones.add(normalize_phone(item))
            else:
                texts.append(item)
        return cls(frozenset(emails), frozenset(phones), frozenset(domains), tuple(texts))

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str]]) -> PublicContacts:
        """(kind, value) rows as `kb_public_contacts` stores them."""
        by_kind: dict[str, set[str]] = defaultdict(set)
        for kind, value in rows:
            by_kind[kind].add(value)
        return cls(
            frozenset(by_kind["email"]),
            frozenset(by_kind["phone"]),
            frozenset(by_kind["domain"]),
            tuple(sorted(by_kind["text"])),
        )

    @classmethod
    def from_documents(
        cls, documents: Iterable[tuple[str, str]], min_sources: int = MIN_SOURCES
    ) -> PublicContacts:
        """The rule applied to (source key, text) pairs: a page id or a customer per text."""
        sources: dict[tuple[str, str], set[str]] = defaultdict(set)
        for key, text in documents:
            for kind, value, _, _ in find_contacts(text):
                sources[(kind, value)].add(key)
        return cls.from_rows(
            (kind, value) for (kind, value), keys in sources.items() if len(keys) >= min_sources
        )

    def __or__(self, other: PublicContacts) -> PublicContacts:
        return PublicContacts(
            self.emails | other.emails,
            self.phones | other.phones,
            self.domains | other.domains,
            tuple(dict.fromkeys((*self.texts, *other.texts))),
        )

    def __bool__(self) -> bool:
        return bool(self.emails or self.phones or self.domains or self.texts)

    def is_public(self, kind: str, value: str) -> bool:
        """Whether a found (kind, normalized value) contact is the organisation's."""
        if kind == "phone":
            return value in self.phones
        domain = value.rpartition("@")[2]
        return value in self.emails or any(
            domain == d or domain.endswith("." + d) for d in self.domains
        )

    def shelve(self, text: str) -> tuple[str, Callable[[str], str]]:
        """The text with public contacts replaced by sentinels, and the function that
        puts them back into the masked text."""
        if not self:
            return text, lambda masked: masked
        spans = [
            (start, end)
            for kind, value, start, end in find_contacts(text)
            if self.is_public(kind, value)
        ]
        lowered = text.lower()
        for literal in self.texts:
            start = lowered.find(literal.lower())
            while start >= 0:
                spans.append((start, start + len(literal)))
                start = lowered.find(literal.lower(), start + len(literal))
        kept: list[str] = []
        pieces, position = [], 0
        for start, end in sorted(spans):
            if start < position:
                continue  # overlaps a span already shelved
            pieces.append(text[position:start])
            pieces.append(_SENTINEL.format(chr(0xE100 + len(kept))))
            kept.append(text[start:end])
            position = end
        pieces.append(text[position:])

        def restore(masked: str) -> str:
            for i, original in enumerate(kept):
                masked = masked.replace(_SENTINEL.format(chr(0xE100 + i)), original)
            return masked

        return "".join(pieces), restore


def load_public_contacts(conn: psycopg.Connection, allow_list: Iterable[str]) -> PublicContacts:
    """The dbt-built list (`marts.kb_public_contacts`, when built) plus the allow-list."""
    configured = PublicContacts.from_allow_list(allow_list)
    row = conn.execute("select to_regclass('marts.kb_public_contacts') is not null").fetchone()
    if not row or not row[0]:
        logger.info("marts.kb_public_contacts is not built; public contacts: allow-list only")
        return configured
    rows = conn.execute("select contact_kind, contact_value from marts.kb_public_contacts")
    found = PublicContacts.from_rows((str(kind), str(value)) for kind, value in rows.fetchall())
    return configured | found
