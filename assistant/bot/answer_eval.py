"""`kb eval answers`: does the comment the bot would post answer the question asked?

The corpus (BEIR corpus.jsonl, as for `kb eval retrieval`) is indexed into a scratch
schema; for each question of answers.jsonl (`id`, `question`, `reference_answer`,
`relevant_doc_ids`) the retrieval-only suggestion is composed exactly as the bot does,
and scored:

* source_cited — a relevant document is among the comment's sources or similar tickets;
* draft_relevant — the draft was taken from a relevant document;
* chrF — character n-gram F-score (n = 1..6, β = 2, as in sacreBLEU) of the draft body
  (greeting and closing line removed) against the reference answer, 0..100;
* leaks — drafts with staff-facing sentences (`staff_text`), with examples;
* candidates_relevant — a relevant document was among those the draft was chosen from
  (the best a perfect chooser could do with what retrieval offered);
* placeholders — drafts holding a masking placeholder (`[email]`, `[phone]`…), and
  among them those whose reference reply has one of the organisation's public contacts
  (`assistant/masking/public.py`: found in the corpus as the bot's list is found in the
  knowledge base, plus `PUBLIC_CONTACTS`) — a draft that masks the support address
  there says «напишите на [email]» instead — and drafts holding an e-mail or phone that
  is not the organisation's (a customer's, which must never reach a draft);
* misses — why a draft is not from a relevant document: retrieval found no match, no
  relevant document was among the retrieved hits, one was retrieved but not offered to
  the draft (retrieval's part: ranked below the pages and past tickets composition
  reads), or one was offered and the draft came from another (the chooser's part).

With `llm` (the configured `LLM_BASE_URL`, as the bot runs with it) each question goes
through the LLM path: the draft's source is the first source it cites, and a reply the
bot would not post (no JSON, a citation of nothing it was given, a timeout) falls back
to the retrieval-only composition exactly as in the bot — the report counts each mode.

Retrieval is opened as the bot opens it (`Retriever.open`: the embedder's calibrated
defaults), so the figures are the bot's, not those of another fusion. A baseline draft
— the first source's reply-template section as is, else its first passage — is scored
the same way, so the gain over "take the page's template" is visible. The questions are
also run degraded by `assistant.knowledge.evaluation.degrade` (typos, dropped words, cut-off text:
the copy retrieval is calibrated on), a stand-in for real tickets that are sloppier than
the sample's paraphrases.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psycopg

from assistant.bot.answer_selection import page_passages
from assistant.bot.models import Suggestion
from assistant.bot.output_guard import OutputGuard
from assistant.bot.reply_text import draft_body, draft_from_resolution
from assistant.bot.staff_text import leaks
from assistant.bot.suggest import Suggester
from assistant.errors import KbError
from assistant.jsonl import json_objects
from assistant.knowledge.evaluation.degrade import DEFAULT_SEED, degrade_queries
from assistant.knowledge.index.chunking import KbDocument
from assistant.knowledge.index.indexing import index_documents
from assistant.knowledge.index.store import KnowledgeStore
from assistant.knowledge.search.retrieval import Retriever
from assistant.llm.client import LLMClient
from assistant.masking.public import find_contacts
from assistant.redact import PublicContacts, placeholders
from assistant.settings import AssistantSettings

logger = logging.getLogger(__name__)

CHRF_ORDER = 6
CHRF_BETA = 2.0
MAX_EXAMPLES = 5


MISSES = (
    "no_match",
    "no_relevant_retrieved",
    "relevant_not_a_candidate",
    "draft_from_other_doc",
)


class AnswerEvalError(KbError):
    """The corpus or answers file is missing or malformed."""


class Progress(Protocol):
    """Where the run reports questions done (the CLI draws a bar; see flows/progress.py)."""

    def expect(self, more: int) -> None: ...

    def advance(self, done: int) -> None: ...


@dataclass(frozen=True)
class AnswerCase:
    id: str
    question: str
    reference_answer: str
    relevant_doc_ids: frozenset[str]


def load_cases(path: Path) -> list[AnswerCase]:
    """answers.jsonl → cases; a bad line is a one-line error naming the line."""
    cases = []
    for number, record in json_objects(path, AnswerEvalError):
        missing = [
            key
            for key in ("id", "question", "reference_answer", "relevant_doc_ids")
            if key not in record
        ]
        if missing:
            raise AnswerEvalError(f"{path}:{number}: missing {', '.join(missing)}")
        if not isinstance(record["relevant_doc_ids"], list):
            raise AnswerEvalError(f"{path}:{number}: relevant_doc_ids must be a list")
        cases.append(
            AnswerCase(
                str(record["id"]),
                str(record["question"]),
                str(record["reference_answer"]),
                frozenset(str(doc) for doc in record["relevant_doc_ids"]),
            )
        )
    if not cases:
        raise AnswerEvalError(f"{path}: no questions")
    return cases


def load_corpus(path: Path) -> list[KbDocument]:
    """A BEIR corpus.jsonl (`_id` or `id`, title, text, optional metadata)."""
    docs = []
    for number, record in json_objects(path, AnswerEvalError):
        doc_id = record.get("_id", record.get("id"))
        if doc_id is None:
            raise AnswerEvalError(f"{path}:{number}: a record needs an `_id`")
        meta = record.get("metadata") or {}
        source = meta.get("source") or (
            "pyrus" if str(doc_id).startswith("pyrus:") else "confluence"
        )
        docs.append(
            KbDocument(
                document_id=str(doc_id),
                source=source,
                title=str(record.get("title") or ""),
                url=str(meta.get("url") or ""),
                body=str(record.get("text") or ""),
            )
        )
    if not docs:
        raise AnswerEvalError(f"{path}: empty corpus")
    return docs


# --- metrics ----------------------------------------------------------------------------


def _ngrams(text: str, n: int) -> Counter[str]:
    chars = "".join(text.split())
    return Counter(chars[i : i + n] for i in range(len(chars) - n + 1))


def chrf(hypothesis: str, reference: str) -> float:
    """chrF (Popović 2015, sacreBLEU defaults): mean char n-gram P and R, F_β, 0..100."""
    precisions, recalls = [], []
    for n in range(1, CHRF_ORDER + 1):
        hyp, ref = _ngrams(hypothesis, n), _ngrams(reference, n)
        if not hyp or not ref:
            continue
        matched = sum((hyp & ref).values())
        precisions.append(matched / sum(hyp.values()))
        recalls.append(matched / sum(ref.values()))
    if not precisions:
        return 0.0
    p, r = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    if p == 0 and r == 0:
        return 0.0
    beta2 = CHRF_BETA**2
    return 100 * (1 + beta2) * p * r / (beta2 * p + r)


# --- running ----------------------------------------------------------------------------


def baseline_draft(suggestion: Suggestion, store: KnowledgeStore) -> tuple[str, str | None]:
    """The first source's reply-template section as is (else its first passage)."""
    if not suggestion.sources:
        return "", None
    first = suggestion.sources[0]
    sections = store.document_sections(str(first.document_id))
    passages = page_passages(str(first.document_id), first.source, first.title, 0, sections)
    template = next((p for p in passages if p.kind == "template"), None)
    chosen = template or (passages[0] if passages else None)
    if chosen is None:
        return "", None
    return draft_from_resolution(chosen.text, [], None, already_extracted=True), str(
        first.document_id
    )


def _score(rows: Sequence[dict[str, Any]], prefix: str) -> dict[str, Any]:
    n = len(rows) or 1
    leaking = [row for row in rows if row[f"{prefix}_leaks"]]
    return {
        "draft_relevant": round(sum(row[f"{prefix}_relevant"] for row in rows) / n, 4),
        "chrf": round(sum(row[f"{prefix}_chrf"] for row in rows) / n, 2),
        "drafts_with_leaks": len(leaking),
        "leak_sentences": sum(len(row[f"{prefix}_leaks"]) for row in rows),
        "leak_examples": [
            {"id": row["id"], "rule": rule, "sentence": sentence[:200]}
            for row in leaking[:MAX_EXAMPLES]
            for rule, sentence in row[f"{prefix}_leaks"][:1]
        ],
    }


def draft_miss(suggestion: Suggestion, relevant: frozenset[str]) -> str | None:
    """Why the draft is not from a relevant document (None when it is)."""
    if suggestion.draft_source_id in relevant:
        return None
    if suggestion.mode == "no_match":
        return "no_match"
    retrieved = {str(hit["document_id"]) for hit in suggestion.retrieval}
    if not retrieved & relevant:
        return "no_relevant_retrieved"
    if suggestion.draft_candidates and not set(suggestion.draft_candidates) & relevant:
        return "relevant_not_a_candidate"
    return "draft_from_other_doc"


def mode_of(suggestion: Suggestion) -> str:
    """`llm`, `no_match`, or `retrieval_only` with the reason the LLM was not used."""
    if suggestion.mode == "retrieval_only" and suggestion.fallback_reason:
        return f"retrieval_only:{suggestion.fallback_reason}"
    return suggestion.mode


def has_public_contact(text: str, public: PublicContacts | None) -> bool:
    """Whether the text holds one of the organisation's public e-mails or phones."""
    return public is not None and any(
        public.is_public(kind, value) for kind, value, _, _ in find_contacts(text)
    )


def has_private_contact(text: str, public: PublicContacts | None) -> bool:
    """Whether the text holds an e-mail or phone that is not the organisation's."""
    return any(
        public is None or not public.is_public(kind, value)
        for kind, value, _, _ in find_contacts(text)
    )


def corpus_public_contacts(
    docs: Sequence[KbDocument], allow_list: Sequence[str] = ()
) -> PublicContacts:
    """The organisation's contacts as the bot would know them for this corpus: the rule of
    `kb_public_contacts` over its pages and tickets (one source each), plus the allow-list."""
    found = PublicContacts.from_documents((doc.document_id, doc.body) for doc in docs)
    return found | PublicContacts.from_allow_list(allow_list)


def _case_row(
    case: AnswerCase,
    question: str,
    suggester: Suggester,
    store: KnowledgeStore,
    public: PublicContacts | None = None,
) -> dict[str, Any]:
    subject, _, description = question.partition("\n")
    suggestion = suggester.suggest(subject, description)
    cited = {str(ref.document_id) for ref in [*suggestion.sources, *suggestion.similar_tickets]}
    body = draft_body(suggestion.draft_reply)
    base_draft, base_source = baseline_draft(suggestion, store)
    base_body = draft_body(base_draft)
    return {
        "id": case.id,
        "mode": mode_of(suggestion),
        "draft_source_id": suggestion.draft_source_id,
        "source_cited": bool(cited & case.relevant_doc_ids),
        "candidate_relevant": bool(set(suggestion.draft_candidates) & case.relevant_doc_ids),
        "ours_relevant": suggestion.draft_source_id in case.relevant_doc_ids,
        "ours_chrf": chrf(body, case.reference_answer) if body else 0.0,
        "ours_leaks": leaks(body),
        "ours_placeholders": len(placeholders(body)),
        "reference_public": has_public_contact(case.reference_answer, public),
        "ours_private_contact": has_private_contact(body, public),
        "ours_kind": suggestion.draft_source_kind,
        "ours_miss": draft_miss(suggestion, case.relevant_doc_ids),
        "baseline_relevant": base_source in case.relevant_doc_ids,
        "baseline_chrf": chrf(base_body, case.reference_answer) if base_body else 0.0,
        "baseline_leaks": leaks(base_body),
    }


def evaluate_cases(
    cases: Sequence[AnswerCase],
    suggester: Suggester,
    store: KnowledgeStore,
    *,
    degraded: bool = False,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
    public: PublicContacts | None = None,
) -> dict[str, Any]:
    """Figures for one pass over the questions (optionally degraded)."""
    questions = {case.id: case.question for case in cases}
    if degraded:
        questions = degrade_queries(questions, seed)
    if progress is not None:
        progress.expect(len(cases))
    rows = []
    for case in cases:
        rows.append(_case_row(case, questions[case.id], suggester, store, public))
        if progress is not None:
            progress.advance(1)
    n = len(rows) or 1
    cited = [row for row in rows if row["source_cited"]]
    return {
        "questions": len(rows),
        "modes": dict(Counter(row["mode"] for row in rows)),
        "source_cited": round(sum(row["source_cited"] for row in rows) / n, 4),
        "candidates_relevant": round(sum(row["candidate_relevant"] for row in rows) / n, 4),
        "draft_relevant_when_cited": round(
            sum(row["ours_relevant"] for row in cited) / (len(cited) or 1), 4
        ),
        "draft_kinds": dict(Counter(str(row["ours_kind"]) for row in rows)),
        "misses": {miss: sum(row["ours_miss"] == miss for row in rows) for miss in MISSES},
        "placeholders": {
            "drafts_with_placeholders": sum(row["ours_placeholders"] > 0 for row in rows),
            "references_with_public_contact": sum(row["reference_public"] for row in rows),
            "where_reference_has_public_contact": sum(
                row["ours_placeholders"] > 0 for row in rows if row["reference_public"]
            ),
            "drafts_with_a_private_contact": sum(row["ours_private_contact"] for row in rows),
        },
        "ours": _score(rows, "ours"),
        "baseline": _score(rows, "baseline"),
        "rows": [
            {
                "id": row["id"],
                "mode": row["mode"],
                "draft_source_id": row["draft_source_id"],
                "draft_relevant": row["ours_relevant"],
                "miss": row["ours_miss"],
                "chrf": round(row["ours_chrf"], 1),
            }
            for row in rows
        ],
    }


def run_answer_evaluation(
    conn: psycopg.Connection,
    settings: AssistantSettings,
    docs: Sequence[KbDocument],
    cases: Sequence[AnswerCase],
    *,
    degraded: bool = True,
    llm: LLMClient | None = None,
    progress: Progress | None = None,
    turns: Callable[[Suggester], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Index `docs` into a scratch schema, compose a comment per question, score it.

    `llm`: compose through the LLM path as the bot does with one configured (None: the
    retrieval-only composition, what the bot posts without an LLM). `turns`: also run
    the conversation-turn evaluation on the same suggester (`turn_eval.turn_evaluation`).
    """
    schema = f"kb_answers_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    store = KnowledgeStore.create_scratch(conn, schema)
    try:
        report = index_documents(store, docs, settings, full=True)
        retriever = Retriever.open(conn, settings, schema=schema)
        public = corpus_public_contacts(docs, settings.public_contacts)
        guard = OutputGuard(public, frozenset(settings.llm_link_allow_list))
        suggester = Suggester(
            retriever, None, llm, section_loader=store.document_sections, guard=guard
        )
        result: dict[str, Any] = {
            "corpus_documents": len(docs),
            "embedder": report.embedder,
            "llm": llm.model if llm is not None else None,
            "sample": evaluate_cases(cases, suggester, store, progress=progress, public=public),
        }
        if degraded:
            result["degraded"] = evaluate_cases(
                cases, suggester, store, degraded=True, progress=progress, public=public
            )
        if turns is not None:
            result["turns"] = turns(suggester)
        return result
    finally:
        store.drop()


def format_report(result: dict[str, Any]) -> str:
    """The figures as a short text table (both passes, ours vs baseline)."""
    composer = f"LLM {result['llm']}" if result.get("llm") else "retrieval-only (no LLM)"
    lines = [
        f"corpus: {result['corpus_documents']} documents, embedder {result['embedder']}, "
        f"drafts: {composer}"
    ]
    for name in ("sample", "degraded"):
        part = result.get(name)
        if part is None:
            continue
        lines.append(
            f"\n[{name}] {part['questions']} questions; right source cited in the comment: "
            f"{part['source_cited']:.1%}; draft kinds: {part['draft_kinds']}"
        )
        if result.get("llm"):
            lines.append(f"modes: {part['modes']}")
        lines.append(
            "a relevant doc among the draft's candidates: "
            f"{part['candidates_relevant']:.1%}; draft from a relevant doc when retrieval "
            f"cited one: {part['draft_relevant_when_cited']:.1%}"
        )
        misses = part["misses"]
        lines.append(
            f"drafts not from a relevant doc: no match {misses['no_match']}, "
            f"no relevant doc retrieved {misses['no_relevant_retrieved']}, "
            f"retrieved but not a candidate {misses['relevant_not_a_candidate']}, "
            f"a candidate but the draft from another {misses['draft_from_other_doc']}"
        )
        held = part["placeholders"]
        lines.append(
            f"drafts with a placeholder ([email], [phone]…): {held['drafts_with_placeholders']}; "
            "where the reference reply has a public contact: "
            f"{held['where_reference_has_public_contact']} of "
            f"{held['references_with_public_contact']}; with a customer's e-mail or phone: "
            f"{held['drafts_with_a_private_contact']}"
        )
        lines.append(f"{'':10}{'draft from relevant doc':>25}{'chrF':>8}{'leaking drafts':>16}")
        for system in ("ours", "baseline"):
            fig = part[system]
            lines.append(
                f"{system:10}{fig['draft_relevant']:>25.1%}{fig['chrf']:>8.1f}"
                f"{fig['drafts_with_leaks']:>16d}"
            )
        for system in ("ours", "baseline"):
            for example in part[system]["leak_examples"]:
                lines.append(
                    f"  {system} leak {example['id']} ({example['rule']}): {example['sentence']}"
                )
    return "\n".join(lines)
