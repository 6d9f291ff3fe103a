"""Ticket → masked query → category → hybrid retrieval → prompt → LLM → cited suggestion.

The LLM is optional and never trusted: the ticket text is wrapped and declared data,
the reply must parse as our JSON, cited ids must be among the sources we gave it (a
reply citing none of them is discarded), its draft loses staff-facing sentences, and
a reply that echoes the prompt is rejected. The passages that answer this ticket are
chosen first (`compose`): they feed the LLM prompt, and whenever the LLM is missing or
fails they are the suggestion — steps from the best page passage, the draft from the
best past staff reply, reply template or passage — and the comment says so. When
retrieval finds nothing relevant, the suggestion says that plainly. The suggestion is
built once, when it is known how the call ended (`suggestion_build.py`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import psycopg

from assistant.bot.comment_format import PYRUS_TASK_URL_PREFIX
from assistant.bot.compose import Composition, compose
from assistant.bot.models import SectionLoader, SourceRef, Suggestion
from assistant.bot.output_guard import OutputGuard
from assistant.bot.reply_text import (
    neutralize,
    section_body,
)
from assistant.bot.suggestion_build import (
    call_fields,
    category_fields,
    from_llm,
    known_citations,
    nothing_found,
    retrieval_only,
    retrieval_snapshot,
    source_ref,
)
from assistant.categorization.policy import Categorizer, CategoryDecision
from assistant.email_text import latest_message
from assistant.errors import KbError
from assistant.knowledge.index.store import KnowledgeStore
from assistant.knowledge.search.retrieval import Retriever, SearchHit, SearchResult
from assistant.llm.client import LLMClient, LLMReply, LLMUnavailable, llm_from_settings
from assistant.llm.context import fit_parts
from assistant.llm.prompt import Prompt, load_prompt
from assistant.redact import load_public_contacts, redact
from assistant.settings import AssistantSettings

logger = logging.getLogger(__name__)

PASSAGES_PER_SOURCE = 2
MIN_DRAFT_CHARS = 20  # shorter is no reply to a customer (a base model's "}" or "Да")


def _dedupe_by_document(hits: Sequence[SearchHit], limit: int) -> list[SearchHit]:
    seen: set[Any] = set()
    kept = []
    for hit in hits:
        if hit.document_id not in seen:
            seen.add(hit.document_id)
            kept.append(hit)
    return kept[:limit]


def ticket_query(subject: str, description: str) -> str:
    """The text a ticket is searched and categorized by: subject and the newest message of
    its body (an e-mail's quoted history and signature dropped, `assistant/email_text.py`),
    masked."""
    body = latest_message(description or "")
    return redact("\n".join(part.strip() for part in (subject or "", body) if part.strip()))


class Suggester:
    """Builds a `Suggestion` for one ticket text; the LLM is optional."""

    def __init__(
        self,
        retriever: Retriever,
        categorizer: Categorizer | None = None,
        llm: LLMClient | None = None,
        prompt: Prompt | None = None,
        *,
        k_pages: int = 6,
        k_tickets: int = 4,
        section_loader: SectionLoader | None = None,
        task_url_prefix: str = PYRUS_TASK_URL_PREFIX,
        guard: OutputGuard | None = None,
    ) -> None:
        self.retriever = retriever
        self.guard = guard or OutputGuard()
        self.task_url_prefix = task_url_prefix
        self.section_loader = section_loader
        self.categorizer = categorizer
        self.llm = llm
        self.prompt = prompt or load_prompt()
        self.k_pages = k_pages
        self.k_tickets = k_tickets

    def prime(self, tickets: Sequence[tuple[str, str]]) -> None:
        """Embed the (subject, description) tickets about to be suggested in one batch."""
        prime = getattr(self.retriever, "prime", None)
        if prime is not None:
            queries = [ticket_query(subject, description) for subject, description in tickets]
            prime(queries, background=True)

    def suggest(
        self,
        subject: str,
        description: str,
        *,
        customer_name: str | None = None,
        exclude_document_ids: frozenset[str] = frozenset(),
    ) -> Suggestion:
        """Retrieve, then generate (or fall back); never raises for LLM trouble.

        `exclude_document_ids` keeps a replayed historical ticket from finding itself
        (its own resolution is in the index by then; the live bot never saw it).
        """
        query = ticket_query(subject, description)
        started = time.perf_counter()
        decision = self._categorize(query)
        page_hits, ticket_hits, all_hits, embedder = self._retrieve(query, exclude_document_ids)
        retrieve_ms = int((time.perf_counter() - started) * 1000)
        refs = [
            source_ref(f"S{i}", hit, self.task_url_prefix)
            for i, hit in enumerate([*page_hits, *ticket_hits], 1)
        ]
        # what every ending shares: the retrieval, the category, the prompt version
        common: dict[str, Any] = {
            "similar_tickets": [ref for ref in refs if ref.source == "pyrus"],
            "prompt_version": self.prompt.version,
            "embedder": embedder,
            "retrieval": retrieval_snapshot(all_hits),
            "no_good_match": not refs,
            "retrieve_ms": retrieve_ms,
            **category_fields(decision),
        }
        if not refs:
            return nothing_found(customer_name, **common)
        composition = compose(
            query,
            page_hits,
            ticket_hits,
            self.section_loader,
            getattr(self.retriever, "embedder", None),
            self.guard.public,
        )

        def fall_back(reason: str, **llm: Any) -> Suggestion:
            return retrieval_only(
                composition, page_hits, refs, customer_name, reason=reason, **common, **llm
            )

        if self.llm is None:
            return fall_back("llm_not_configured")
        llm_started = time.perf_counter()
        call: dict[str, Any] = {}  # what the log keeps of the call, also of a failed one
        try:
            result = self.llm.complete_json(
                self.prompt.system,
                lambda budget: self._user_message(
                    query,
                    refs,
                    page_hits,
                    ticket_hits,
                    composition,
                    decision,
                    customer_name,
                    budget_tokens=budget,
                ),
            )
            call = call_fields(result.call)
            self._check_not_leaking(result.reply)
        except LLMUnavailable as exc:
            failed = {
                **call,
                "llm_ms": int((time.perf_counter() - llm_started) * 1000),
                "llm_error": str(exc),
                "model": self.llm.model,
                **(call_fields(exc.call) if exc.call is not None else {}),
            }
            logger.warning("LLM gave no suggestion (%s), retrieval-only: %s", exc.reason, exc)
            return fall_back(exc.reason, **failed)
        answered = {
            **call,
            "llm_ms": int((time.perf_counter() - llm_started) * 1000),
            "model": result.model,
        }
        if not known_citations(result.reply, refs):
            logger.warning("LLM draft cites nothing given; retrieval-only suggestion")
            return fall_back(
                "llm_uncited", **answered, llm_error="the LLM reply cites none of the given sources"
            )
        review = self.guard.review(result.reply, [ref.url for ref in refs])
        if review.problem:  # assistant/bot/output_guard.py
            logger.warning("LLM reply failed the output guard (%s); retrieval-only", review.problem)
            return fall_back("llm_unsafe", **answered, llm_error=review.problem)
        answered |= {
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
        }
        return from_llm(review.reply, refs, **common, **answered)

    def _retrieve(
        self, query: str, exclude: frozenset[str] = frozenset()
    ) -> tuple[list[SearchHit], list[SearchHit], list[SearchHit], str]:
        """Pages and past tickets for the query: one search, a filtered one only if needed.

        One unfiltered search usually returns both kinds and costs half of two filtered
        ones; a kind missing from it gets its own filtered search.
        """
        combined = self.retriever.search(query, k=self.k_pages + 2 * self.k_tickets + len(exclude))
        hits = [hit for hit in combined.hits if hit.document_id not in exclude]
        all_hits = list(hits)
        if combined.no_good_match:
            return [], [], all_hits, combined.embedder
        by_source: dict[str, list[SearchHit]] = {"confluence": [], "pyrus": []}
        for hit in hits:
            by_source.setdefault(hit.source, []).append(hit)
        for source, k in (("confluence", self.k_pages), ("pyrus", self.k_tickets)):
            if not by_source[source]:
                extra = self.retriever.search(query, k=k + len(exclude), source=source)
                kept = [hit for hit in extra.hits if hit.document_id not in exclude]
                all_hits.extend(kept)
                by_source[source] = kept if _supplement_is_relevant(combined, extra) else []
        return (
            _dedupe_by_document(by_source["confluence"], self.k_pages),
            _dedupe_by_document(by_source["pyrus"], self.k_tickets),
            all_hits,
            combined.embedder,
        )

    def _categorize(self, query: str) -> CategoryDecision | None:
        if self.categorizer is None:
            return None
        try:
            return self.categorizer.categorize(query)
        except Exception:  # a broken classifier must not block the suggestion
            logger.exception("categorization failed; continuing without a category")
            return None

    def _user_message(
        self,
        query: str,
        refs: list[SourceRef],
        page_hits: Sequence[SearchHit],
        ticket_hits: Sequence[SearchHit],
        composition: Composition,
        decision: CategoryDecision | None,
        customer_name: str | None,
        *,
        budget_tokens: int | None = None,
    ) -> str:
        """Sources as the passages that fit this ticket best, not whole chunks.

        A page contributes its best-scoring passages (the heading says where they are
        from); a past ticket its masked staff reply. Without a scored passage the
        retrieved chunk text stands in. With `budget_tokens` (the model's window less the
        answer, `assistant/llm/context.py`) the lowest-ranked sources go first, then the
        ticket is shortened keeping its head and tail.
        """
        blocks = []
        for ref, hit in zip(refs, [*page_hits, *ticket_hits], strict=True):
            kind = "статья базы знаний" if ref.source == "confluence" else "решённая заявка"
            chosen = [
                s.passage
                for s in composition.ranked
                if s.passage.document_id == str(hit.document_id)
            ][:PASSAGES_PER_SOURCE]
            if chosen:
                body = "\n\n".join(
                    f"[{p.heading}]\n{p.text}" if p.heading else p.text for p in chosen
                )
            else:
                body = section_body(hit.text or hit.snippet or "", hit.title or "")
            if ref.source == "pyrus":
                body = redact(body, self.guard.public)
            blocks.append(
                f"[{ref.label}] ({kind}) {neutralize(ref.title)}\n{neutralize(body[:1500])}"
            )
        ticket = neutralize(query)
        if customer_name:
            ticket = f"Имя клиента: {neutralize(customer_name)}\n{ticket}"
        category = decision.category_code if decision is not None else "не определена"
        template = self.prompt.user_template.replace("{category}", neutralize(category))
        if budget_tokens is not None:
            fixed = template.replace("{sources}", "").replace("{ticket}", "")
            blocks, ticket = fit_parts(fixed, blocks, ticket, budget_tokens)
        return template.replace("{sources}", "\n\n".join(blocks)).replace("{ticket}", ticket)

    def _check_not_leaking(self, reply: LLMReply) -> None:
        produced = "\n".join([*reply.recommendation_steps, reply.draft_reply])
        if any(probe in produced for probe in self.prompt.leak_probes()):
            raise LLMUnavailable("the LLM reply repeats the system prompt", reason="llm_invalid")
        draft = reply.draft_reply.strip()
        if not draft and not reply.recommendation_steps:
            raise LLMUnavailable("the LLM reply is empty", reason="llm_invalid")
        if 0 < len(draft) < MIN_DRAFT_CHARS:
            raise LLMUnavailable(
                f"the LLM draft is {len(draft)} characters long", reason="llm_invalid"
            )


def _supplement_is_relevant(combined: SearchResult, extra: SearchResult) -> bool:
    """Keep a one-source follow-up search that covers at least half of what the best hit did.

    The query already matched the knowledge base (the combined search passed the
    no-match threshold); pages usually cover fewer of a ticket's words than a similar
    ticket does, so holding them to the absolute threshold drops the right page.
    """
    if not extra.hits:
        return False
    if not extra.no_good_match:
        return True
    best, found = combined.confidence, extra.confidence
    return bool(best) and found >= 0.5 * best


def open_suggester(conn: psycopg.Connection, settings: AssistantSettings) -> Suggester:
    """The production suggester: hybrid retriever, categorizer (if fitted), configured LLM."""
    retriever = Retriever.open(conn, settings)
    sections = KnowledgeStore(conn).document_sections
    categorizer = None
    try:
        categorizer = Categorizer.open(conn, settings)
    except KbError as exc:
        logger.warning("no categorizer, suggestions go without a category: %s", exc)
    return Suggester(
        retriever,
        categorizer,
        llm_from_settings(settings),
        section_loader=sections,
        task_url_prefix=settings.pyrus_task_url_prefix,
        guard=OutputGuard(
            load_public_contacts(conn, settings.public_contacts),
            frozenset(settings.llm_link_allow_list),
        ),
    )
