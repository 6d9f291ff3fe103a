"""The data the bot passes around: a suggestion and the sources it shows.

Its own module, imported by the service (`suggest.py`), the comment (`comment_format.py`),
the suggestion log and the evaluations alike, so none of them has to import the service
to know the shape of what it produced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SectionLoader = Callable[[str], list[tuple[str, str]]]
"""Document id -> the page's (section heading, section text) pairs, in page order."""


@dataclass(frozen=True)
class SourceRef:
    """A source shown in the comment; `label` is the id the LLM cites (S1, S2…)."""

    label: str
    chunk_id: Any
    document_id: Any
    source: str
    title: str
    url: str
    score: float


@dataclass(frozen=True)
class Suggestion:
    """Everything the comment and the suggestion log need.

    Built once, when the suggester knows how it ends (`suggest.py`), and never changed
    after: a caller that shows less (a turn's comment, `turns.py`) makes a copy with
    `dataclasses.replace`, so the suggestion that was logged is the one that was made.
    """

    mode: str  # llm | retrieval_only | no_match
    steps: list[str]
    draft_reply: str
    sources: list[SourceRef]
    similar_tickets: list[SourceRef]
    category_code: str | None = None
    category_confidence: float | None = None
    category_method: str | None = None
    taxonomy_version: str | None = None
    confidence: float | None = None
    fallback_reason: str | None = None
    llm_error: str | None = None
    model: str | None = None
    prompt_version: str = ""
    embedder: str | None = None
    retrieval: list[dict[str, Any]] = field(default_factory=list)
    no_good_match: bool = False
    retrieve_ms: int = 0
    llm_ms: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    llm_output_mode: str | None = None  # json_schema | json_object | prompt
    llm_finish_reason: str | None = None
    category_decision: Any = None
    draft_source_id: str | None = None  # document the draft was taken from
    draft_source_kind: str | None = None  # template | resolution | section | llm
    # Documents the draft was chosen among (retrieval-only: the pages and past tickets
    # composition read; LLM: every source in the prompt) — `kb eval answers` tells a
    # choice among them from a retrieval that never offered the right one.
    draft_candidates: list[str] = field(default_factory=list)
