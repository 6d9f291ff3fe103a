"""How a `Suggestion` is built: its pieces, then one constructor per ending.

The suggester (`suggest.py`) collects the pieces as it goes — the sources and the
retrieval snapshot, the category, what an LLM call cost — and, once it knows how the
call ends (nothing found, the LLM's reply, or retrieval alone), builds the frozen
`Suggestion` (`models.py`) in one go with the constructor here. Nothing changes a
suggestion after that, so what is logged is what was made.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from assistant.bot.comment_format import PYRUS_TASK_URL_PREFIX, pyrus_task_url
from assistant.bot.compose import Composition
from assistant.bot.models import SourceRef, Suggestion
from assistant.bot.reply_text import (
    draft_from_resolution,
    draft_when_nothing_found,
    section_body,
    steps_from_section,
)
from assistant.bot.staff_text import customer_safe
from assistant.categorization.policy import CategoryDecision
from assistant.knowledge.search.retrieval import SearchHit
from assistant.llm.client import CallInfo, LLMReply

logger = logging.getLogger(__name__)


def source_ref(
    label: str, hit: SearchHit, task_url_prefix: str = PYRUS_TASK_URL_PREFIX
) -> SourceRef:
    """A retrieved hit as the comment shows it; a past ticket links to its Pyrus task."""
    url = hit.url or (
        pyrus_task_url(hit.document_id, task_url_prefix) if hit.source == "pyrus" else ""
    )
    return SourceRef(
        label, hit.chunk_id, hit.document_id, hit.source, hit.title or "", url, float(hit.score)
    )


def retrieval_snapshot(hits: Sequence[SearchHit]) -> list[dict[str, Any]]:
    """Every hit with its per-leg scores, as `assistant.suggestions.retrieval` keeps it."""
    return [
        {
            "chunk_id": hit.chunk_id,
            "document_id": hit.document_id,
            "source": hit.source,
            "score": round(float(hit.score), 6),
            "leg_scores": dict(hit.leg_scores),
        }
        for hit in hits
    ]


def category_fields(decision: CategoryDecision | None) -> dict[str, Any]:
    """The suggestion's category columns (none without a categorizer or a decision)."""
    if decision is None:
        return {}
    return {
        "category_code": decision.category_code,
        "category_confidence": float(decision.confidence),
        "category_method": decision.method,
        "taxonomy_version": decision.taxonomy_version,
        "category_decision": decision,
    }


def call_fields(call: CallInfo) -> dict[str, Any]:
    """What the suggestion log keeps about an LLM call (also for a failed one)."""
    return {
        "model": call.model,
        "llm_output_mode": call.output_mode or None,
        "llm_finish_reason": call.finish_reason,
        "prompt_tokens": call.prompt_tokens,
        "completion_tokens": call.completion_tokens,
    }


def nothing_found(customer_name: str | None, **fields: Any) -> Suggestion:
    """Retrieval found nothing relevant: the suggestion says so and asks for details."""
    return Suggestion(
        mode="no_match",
        steps=[],
        draft_reply=draft_when_nothing_found(customer_name),
        sources=[],
        confidence=0.0,
        **fields,
    )


def from_llm(reply: LLMReply, refs: list[SourceRef], **fields: Any) -> Suggestion:
    """The LLM's suggestion: its steps, its draft (staff text dropped), the pages it cited."""
    by_label = {ref.label: ref for ref in refs}
    cited = [
        by_label[label.strip().strip("[]")]
        for label in reply.cited_source_ids
        if label.strip().strip("[]") in by_label
    ]
    unknown = [
        label for label in reply.cited_source_ids if label.strip().strip("[]") not in by_label
    ]
    if unknown:
        logger.info("dropped %d unknown citation(s): %s", len(unknown), unknown[:5])
    first = next((ref for ref in cited), None)
    return Suggestion(
        mode="llm",
        steps=[step.strip()[:600] for step in reply.recommendation_steps if step.strip()],
        draft_reply=customer_safe(reply.draft_reply)[:4000],
        sources=list(dict.fromkeys(ref for ref in cited if ref.source == "confluence")),
        confidence=reply.confidence,
        draft_source_id=str(first.document_id) if first else None,
        draft_source_kind="llm",
        draft_candidates=list(dict.fromkeys(str(ref.document_id) for ref in refs)),
        **fields,
    )


def retrieval_only(
    composition: Composition,
    page_hits: Sequence[SearchHit],
    refs: list[SourceRef],
    customer_name: str | None,
    *,
    reason: str,
    **fields: Any,
) -> Suggestion:
    """The suggestion from retrieval alone: the composed steps and draft (`compose.py`)."""
    steps = list(composition.steps)
    if not steps and page_hits:
        best = page_hits[0]
        steps = steps_from_section(section_body(best.text or best.snippet, best.title))
    source = composition.draft_source
    fallback_steps = [step for step in map(customer_safe, steps) if step]
    top = max((ref.score for ref in refs), default=0.0)
    return Suggestion(
        mode="retrieval_only",
        steps=steps,
        draft_reply=draft_from_resolution(
            composition.draft_body, fallback_steps, customer_name, already_extracted=True
        ),
        sources=[ref for ref in refs if ref.source == "confluence"][:3],
        confidence=round(min(0.5, max(0.0, top)), 3),
        fallback_reason=reason,
        draft_source_id=source.document_id if source is not None else None,
        draft_source_kind=source.kind if source is not None else None,
        draft_candidates=list(composition.candidates),
        **fields,
    )


def known_citations(reply: LLMReply, refs: Sequence[SourceRef]) -> bool:
    """True when the reply cites at least one of the sources it was given."""
    labels = {ref.label for ref in refs}
    return any(label.strip().strip("[]") in labels for label in reply.cited_source_ids)
