"""Links to knowledge in staff replies: Confluence pages and past Pyrus tickets.

Every link form Pyrus and Confluence produce (docs/confluence-api.md, docs/pyrus-api.md):

* Confluence: `…/pages/viewpage.action?pageId=884736` (any `pageId=`), Cloud/DC
  `…/spaces/SUP/pages/884736/Title+Words`, older `…/display/SUP/Title+Words` (resolved
  through the page directory by space and title), tiny permalinks `…/x/AIAN` (base64 of
  the little-endian page id, `-`/`_` for `/`/`+`, padding dropped).
* Pyrus tasks: `https://pyrus.com/t#id231006251` and the same path on an on-premise host,
  plus references in prose: «#231006251», «задача 231006251», «заявка №231006251».

A reference only counts when it resolves to a document the knowledge base knows (a
page id, a space+title, a past ticket id), so numbers that merely look like ids —
a customer's own task number, an amount — do not become labels.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

CONFLUENCE_LINK = "confluence_link"
TICKET_LINK = "ticket_link"

_PAGE_ID = re.compile(r"[?&;]pageId=(\d+)", re.IGNORECASE)
_SPACES_PAGE = re.compile(r"/spaces/[^/\s]+/pages/(\d+)", re.IGNORECASE)
_DISPLAY = re.compile(r"/display/([^/\s?#]+)/([^\s?#<>«»\"')\]]+)")
_TINY = re.compile(r"/x/([A-Za-z0-9_-]{2,12})(?![A-Za-z0-9_/-])")
_TASK_URL = re.compile(r"/t#id(\d+)", re.IGNORECASE)
_TASK_WORD = re.compile(
    r"(?:задач|заявк|обращени|тикет)[а-яё]*\s*(?:№|#|n|no\.?)?\s*(\d{3,})",
    re.IGNORECASE,
)
_TASK_HASH = re.compile(r"(?<![\w&/#])(?:№|#)\s?(\d{3,})(?!\w)")


def tiny_to_page_id(code: str) -> int | None:
    """Decode a Confluence tiny-link code (`AIAN` → 884736); None when it is not one."""
    text = code.replace("-", "/").replace("_", "+")
    text += "A" * (-len(text) % 4)  # 'A' is six zero bits: high zero bytes, harmless
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    value = int.from_bytes(raw, "little")
    return value or None


def _title_key(title: str) -> str:
    return " ".join(title.lower().replace("ё", "е").split())


@dataclass
class Directory:
    """What a link may resolve to: live page ids, (space, title) → page id, ticket ids."""

    page_ids: set[str] = field(default_factory=set)
    titles: dict[tuple[str, str], str] = field(default_factory=dict)
    ticket_ids: set[int] = field(default_factory=set)

    def add_page(self, page_id: str, space_key: str | None, title: str | None) -> None:
        self.page_ids.add(str(page_id))
        if space_key and title:
            self.titles[(space_key.lower(), _title_key(title))] = str(page_id)

    def page_by_title(self, space_key: str, url_title: str) -> str | None:
        title = unquote_plus(url_title).rstrip(".,;:!")
        return self.titles.get((space_key.lower(), _title_key(title)))


@dataclass(frozen=True)
class LinkLabel:
    document_id: str
    method: str
    evidence: str


def _page_candidates(text: str, directory: Directory) -> Iterable[tuple[str, str]]:
    for pattern in (_PAGE_ID, _SPACES_PAGE):
        for match in pattern.finditer(text):
            yield match.group(1), match.group(0)
    for match in _DISPLAY.finditer(text):
        page_id = directory.page_by_title(match.group(1), match.group(2))
        if page_id:
            yield page_id, match.group(0)
    for match in _TINY.finditer(text):
        decoded = tiny_to_page_id(match.group(1))
        if decoded is not None:
            yield str(decoded), match.group(0)


def _ticket_candidates(text: str) -> Iterable[tuple[int, str]]:
    for pattern in (_TASK_URL, _TASK_WORD, _TASK_HASH):
        for match in pattern.finditer(text):
            yield int(match.group(1)), match.group(0)


def extract_links(
    text: str, directory: Directory, *, ticket_id: int | None = None
) -> list[LinkLabel]:
    """Documents a staff text links to, first-seen order, each once; unknown ids dropped."""
    found: dict[str, LinkLabel] = {}
    for page_id, evidence in _page_candidates(text, directory):
        if page_id in directory.page_ids:
            doc = f"confluence:{page_id}"
            found.setdefault(doc, LinkLabel(doc, CONFLUENCE_LINK, evidence[:200]))
    for referenced, evidence in _ticket_candidates(text):
        if referenced != ticket_id and referenced in directory.ticket_ids:
            doc = f"pyrus:{referenced}"
            found.setdefault(doc, LinkLabel(doc, TICKET_LINK, evidence[:200]))
    return list(found.values())
