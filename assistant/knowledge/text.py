"""Russian text normalisation for the lexical leg and the local embedder.

Two views of the same text:

* `terms(text)` — lowercase, `ё`→`е`, stop words dropped, Snowball-stemmed words
  (Russian stemmer for Cyrillic, English for Latin). This is what BM25 indexes, so
  «ошибки синхронизации» and «ошибка при синхронизации» meet on `ошибк`, `синхронизац`.
* `exact_tokens(text)` — the things stemming would break and users type verbatim:
  error codes (`E42`, `0x80070005`, `too_many_requests`), HTTP statuses, ids, URLs,
  e-mails, file names and the names of forms/fields/buttons quoted in «ёлочках» or
  "quotes". They are matched as whole tokens (an array + GIN index) and boost a hit.
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

_RU = snowballstemmer.stemmer("russian")
_EN = snowballstemmer.stemmer("english")

STOP_WORDS: frozenset[str] = frozenset(
    """
    а без более бы был была были было быть в вам вас весь во вот все всего всех вы где да
    даже для до его ее если есть еще же за здесь и из или им их к как ко когда кто ли либо
    мне может мы на над надо наш не него нее нет ни них но ну о об однако он она они оно от
    очень по под при про с со так также такой там те тем то того тоже той только том ты у уже
    хотя чего чей чем что чтобы чье чья эта эти это этот я ли бы ж вы нам нас ей ему им себя
    свой свою своё свои мой моя мои твой который которая которые которое можно нужно
    the a an of to in on for and or is are be it this that with as at by from
    """.split()  # noqa: SIM905 - a word list reads better as prose
)

_WORD = re.compile(r"[0-9a-zа-я]+(?:[-_.][0-9a-zа-я]+)*")
_PART = re.compile(r"[0-9a-zа-я]+")
_CYRILLIC = re.compile(r"[а-я]")

_URL = re.compile(r"(?:https?://|www\.)[^\s<>«»\"')\]]+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_QUOTED = re.compile(r"«([^«»\n]{1,60})»|\"([^\"\n]{1,60})\"|“([^“”\n]{1,60})”")
_HEX = re.compile(r"\b0x[0-9a-f]{2,}\b", re.IGNORECASE)
# A letter-digit mix (E42, ORA-12154, err_503, v3.2), snake_case identifiers, long numbers.
_CODE = re.compile(
    r"(?<![\w.])(?:[a-zа-я]{1,12}[-_]?\d[\w.-]*|\d+[a-zа-я][\w-]*|[a-z]+(?:_[a-z0-9]+)+)(?![\w])",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"(?<!\w)(?<!\d[.,])\d{3,}(?!\w|[.,]\d)")
_FILE = re.compile(
    r"\b[\w-]+\.(?:conf|cfg|ini|json|xml|yaml|yml|csv|xlsx?|docx?|pdf|log|exe|msi|apk|zip)\b"
)


def normalize(text: str) -> str:
    """Lowercase, fold `ё` to `е` and collapse whitespace (also non-breaking spaces)."""
    return " ".join(text.lower().replace("ё", "е").split())


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    if _CYRILLIC.search(word):
        return str(_RU.stemWord(word))
    if word.isdigit():
        return word
    return str(_EN.stemWord(word))


def words(text: str) -> list[str]:
    """Normalised words without stop words (not stemmed); compound tokens are split."""
    result: list[str] = []
    for match in _WORD.finditer(normalize(text)):
        token = match.group(0)
        parts = _PART.findall(token) if not token.isalnum() else [token]
        for part in parts:
            if part not in STOP_WORDS and (len(part) > 1 or part.isdigit()):
                result.append(part)
    return result


def terms(text: str) -> list[str]:
    """Stemmed terms in text order (duplicates kept: BM25 needs term frequencies)."""
    return [_stem(word) for word in words(text)]


def exact_tokens(text: str) -> list[str]:
    """Tokens to match verbatim (lowercased), in first-seen order without duplicates."""
    found: list[str] = []
    seen: set[str] = set()

    def add(token: str) -> None:
        token = normalize(token).strip(" .,;:!?")
        if len(token) >= 2 and token not in seen:
            seen.add(token)
            found.append(token)

    rest = text
    for pattern in (_URL, _EMAIL):
        for match in pattern.finditer(rest):
            add(match.group(0).rstrip(".,;:"))
        rest = pattern.sub(" ", rest)
    for match in _QUOTED.finditer(rest):
        quoted = next(group for group in match.groups() if group is not None)
        if quoted.strip():
            add(quoted)
    for pattern in (_HEX, _FILE, _CODE, _NUMBER):
        for match in pattern.finditer(rest):
            token = match.group(0)
            if pattern is _CODE and token.lower().replace("ё", "е") in STOP_WORDS:
                continue
            add(token)
    return found
