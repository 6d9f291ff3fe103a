"""Text handling for the ticket classifier: normalisation, blank detection, Russian stems.

Kept apart from the model code because pickled models reference `stem_analyzer` by
its module path: this module must keep its name and that function.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

import snowballstemmer

_WORD_RE = re.compile(r"[a-zа-я0-9]+(?:[-_][a-zа-я0-9]+)*")
_URL_RE = re.compile(r"https?://\S+|www\.\S+")
_FILE_RE = re.compile(
    r"\S+\.(?:png|jpe?g|gif|heic|bmp|pdf|docx?|xlsx?|csv|txt|zip|rar|7z|log|mp4|mov)\b"
)
_BLANK_MARKERS_RE = re.compile(r"\b(?:url|вложени[а-я]*|скриншот[а-я]*|файл[а-я]*|attachment|см)\b")


def prepare_text(text: str | None, max_chars: int = 20_000) -> str:
    """Lowercased, `ё`→`е`, URLs masked, whitespace collapsed, cut at a word boundary."""
    cleaned = (text or "").replace("\x00", " ").lower().replace("ё", "е")
    if len(cleaned) > max_chars * 2:
        cleaned = cleaned[: max_chars * 2]  # bound the regex work on huge inputs
    cleaned = _URL_RE.sub(" url ", cleaned)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > max_chars:
        cut = cleaned.rfind(" ", 0, max_chars)
        cleaned = cleaned[: cut if cut > max_chars // 2 else max_chars]
    return cleaned


def is_blank(text: str | None) -> bool:
    """True when nothing but file names, URLs or attachment words is left to classify."""
    stripped = _FILE_RE.sub(" ", prepare_text(text))
    stripped = _BLANK_MARKERS_RE.sub(" ", stripped)
    return not any(len(word) >= 3 and not word.isdigit() for word in _WORD_RE.findall(stripped))


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


_STEMMER = snowballstemmer.stemmer("russian")


def stem_analyzer(text: str) -> list[str]:
    """Russian Snowball stems plus stem bigrams; module-level so that models pickle."""
    stems = [_stem(word) for word in _WORD_RE.findall(text)]
    bigrams = [f"{a} {b}" for a, b in itertools.pairwise(stems)]
    return stems + bigrams
