"""Confluence pages for the sample knowledge base, built from the hand-written content.

The page list (``content/confluence/pages.yaml``) and storage-format bodies
(``content/confluence/<id>.xhtml``) are written by hand; this module only turns them
into the dataset shape the Confluence emulator serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
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


SPACE_NAMES = {"SUP": "База знаний поддержки", "ADM": "Администрирование и интеграции"}
DAY2_EDIT_START = timedelta(hours=16)  # first day-2 edit: day1 cutoff + 16 h (10:00 MSK)
SERVER_TZ = timezone(timedelta(hours=3))


def load_pages_spec(confluence_dir: Path = CONFLUENCE_DIR) -> list[dict[str, Any]] | None:
    """The hand-written page list, or None while it has not been written yet."""
    path = confluence_dir / "pages.yaml"
    if not path.exists():
        return None
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(spec, dict):
        spec = spec.get("pages")
    if not isinstance(spec, list):
        raise ContentError(f"{path} must be a list of pages")
    return spec


def _body(confluence_dir: Path, name: str, page_id: str) -> str:
    path = confluence_dir / name
    if not path.exists():
        raise ContentError(f"page {page_id}: body file {name} is missing")
    return path.read_text(encoding="utf-8").strip()


def _server_time(moment: datetime) -> str:
    """Confluence DC reports times in the server's offset (+03:00), millisecond precision."""
    return moment.astimezone(SERVER_TZ).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class KnowledgeBase:
    """Pages as written to confluence_pages.json plus what the tickets and eval sets need."""

    pages: list[dict[str, Any]]
    text: dict[str, str]  # page id -> plain text of the latest version
    covers: dict[str, list[str]]  # page id -> archetype keys
    sources: dict[str, list[tuple[datetime, str]]]  # archetype -> (created, title), main first


def build_pages(
    day1_cutoff: datetime, day2_cutoff: datetime, confluence_dir: Path = CONFLUENCE_DIR
) -> KnowledgeBase:
    """Turn pages.yaml + bodies into the dataset shape.

    Day-2 edits get a new version dated between the two cutoffs; `day2_deleted` pages get
    `deleted_at` in that window; `trashed_before_day1` pages one day after their creation.
    """
    spec = load_pages_spec(confluence_dir)
    if spec is None:
        return KnowledgeBase([], {}, {}, {})
    by_id = {str(item["id"]): item for item in spec}
    edit_at = day1_cutoff + DAY2_EDIT_START
    pages, text, covers = [], {}, {}
    for item in sorted(spec, key=lambda i: int(i["id"])):
        page_id = str(item["id"])
        created = datetime.fromisoformat(item["created"])
        ancestors = []
        parent = item.get("parent_id")
        while parent is not None:
            ancestors.insert(0, {"id": str(parent), "title": by_id[str(parent)]["title"]})
            parent = by_id[str(parent)].get("parent_id")
        storage = _body(confluence_dir, item["body_file"], page_id)
        versions = [
            {
                "number": 1,
                "when": _server_time(created),
                "by": {"displayName": item["author"]},
                "title": item["title"],
                "storage": storage,
            }
        ]
        if item.get("day2"):
            storage = _body(confluence_dir, item["day2"]["body_file"], page_id)
            versions.append(
                {
                    "number": 2,
                    "when": _server_time(edit_at),
                    "by": {"displayName": item["author"]},
                    "title": item["day2"].get("title", item["title"]),
                    "storage": storage,
                }
            )
            edit_at += timedelta(minutes=47)
        deleted_at = None
        if item.get("day2_deleted"):
            deleted_at = iso_z(day2_cutoff - timedelta(hours=2))
        elif item.get("trashed_before_day1"):
            deleted_at = iso_z(min(created + timedelta(days=1), day1_cutoff))
        pages.append(
            {
                "id": page_id,
                "space_key": item["space_key"],
                "space_name": SPACE_NAMES.get(item["space_key"], item["space_key"]),
                "ancestors": ancestors,
                "labels": list(item.get("labels", [])),
                "status": "current",
                "deleted_at": deleted_at,
                "versions": versions,
            }
        )
        text[page_id] = storage_to_text(storage)
        covers[page_id] = list(item.get("covers", []))
    return KnowledgeBase(pages, text, covers, _sources(pages, covers))


def _sources(
    pages: list[dict[str, Any]], covers: dict[str, list[str]]
) -> dict[str, list[tuple[datetime, str]]]:
    """Per archetype, the pages covering it: the most specific (fewest covers) first."""
    result: dict[str, list[tuple[int, datetime, str]]] = {}
    for page in pages:
        if page["deleted_at"] is not None:
            continue
        first = page["versions"][0]
        created = datetime.fromisoformat(first["when"])
        for key in covers[page["id"]]:
            result.setdefault(key, []).append((len(covers[page["id"]]), created, first["title"]))
    return {
        key: [(created, title) for _, created, title in sorted(items, key=lambda x: (x[0], x[1]))]
        for key, items in result.items()
    }


def iso_z(moment: datetime) -> str:
    """UTC ISO-8601 with `Z`, the dataset's timestamp format outside Confluence versions."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
