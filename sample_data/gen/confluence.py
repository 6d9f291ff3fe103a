"""Confluence pages for the sample knowledge base, built from the hand-written content.

The page list (``content/confluence/pages.yaml``) and storage-format bodies
(``content/confluence/<id>.xhtml``) are written by hand; this module only turns them
into the dataset shape the Confluence emulator serves.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml

from sample_data.gen.content import CONTENT_DIR, ContentError

CONFLUENCE_DIR = CONTENT_DIR / "confluence"
_BLOCK_TAGS = {"p", "h1", "h2", "h3", "h4", "li", "tr", "br", "div", "pre", "table", "ul", "ol"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "ri:page":
            title = dict(attrs).get("ri:content-title")
            if title:
                self.parts.append(f"«{title}»")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def storage_to_text(storage: str) -> str:
    """Plain text of a storage-format body (macro markup dropped, text kept)."""
    parser = _TextExtractor()
    parser.feed(storage)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return "\n".join(line for line in lines if line)


def load_pages_spec(confluence_dir: Path = CONFLUENCE_DIR) -> dict[str, Any] | None:
    """The hand-written page list, or None while it has not been written yet."""
    path = confluence_dir / "pages.yaml"
    if not path.exists():
        return None
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(spec, dict) or "pages" not in spec:
        raise ContentError(f"{path} must be a mapping with a 'pages' list")
    return spec


def build_pages(
    confluence_dir: Path = CONFLUENCE_DIR,
) -> tuple[list[dict[str, Any]], dict[str, str], dict[str, list[str]]]:
    """(pages for confluence_pages.json, plain text by page id, page titles by archetype)."""
    spec = load_pages_spec(confluence_dir)
    if spec is None:
        return [], {}, {}
    raise ContentError("pages.yaml reader not written yet")
