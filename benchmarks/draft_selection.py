"""How well could the draft's source be chosen from what retrieval offers? (printed, not a test)

`kb eval answers` splits the drafts not taken from a relevant document into retrieval's
part and the chooser's part. This script looks at the chooser. For every question (and
its degraded copy, `assistant/knowledge/evaluation/degrade.py`) it takes the draft candidates the
retrieval-only composition reads — passages of the top pages, the staff replies of the
top past tickets — with the evidence the composition has about each: stem-set closeness
to the ticket, agreement with the other source, the document's fused retrieval score, its
rank within its source and its kind. It prints how often the draft's document is relevant
for:

* the shipped chooser (`assistant/bot/compose.py`, exactly as the bot runs it);
* two plain rules: the first past ticket with a reply, the first page;
* a logistic regression over that evidence, fitted and scored in 5-fold cross-validation
  grouped by question on these very labels — an optimistic bound for any re-weighting of
  the same evidence, since it learns from the questions it is judged on;
* a perfect chooser: a relevant document is among the candidates at all.

When the fitted chooser is not clearly above the shipped one, a better draft needs more
evidence (better retrieval, an LLM choosing among the sources), not new weights.

    .venv/bin/python -m benchmarks.draft_selection \\
        [--corpus sample_data/dataset/eval/corpus.jsonl] [--data …/answers.jsonl]
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "sample_data/dataset/eval"
KINDS = ("resolution", "template", "section")
FOLDS = 5


@dataclass(frozen=True)
class Candidate:
    document_id: str
    kind: str
    relevant: bool
    features: tuple[float, ...]


@dataclass(frozen=True)
class Question:
    case_id: str
    shipped_relevant: bool
    candidates: list[Candidate]
    first_ticket: str | None
    first_page: str | None


def _candidates(
    composition: Any, embedder: object | None, retrieved: Sequence[Any], relevant: frozenset
) -> list[Candidate]:
    from assistant.bot.answer_selection import agreement
    from assistant.bot.compose import DRAFT_POOL, candidate_body

    pool = composition.ranked[:DRAFT_POOL]
    support = agreement([s.passage for s in pool], embedder)
    score = {str(hit.document_id): float(hit.score) for hit in retrieved}
    out = []
    for scored, agree in zip(pool, support, strict=True):
        passage = scored.passage
        if not candidate_body(passage):
            continue  # nothing a customer may read: never a draft
        features = (
            scored.score,
            agree,
            score.get(passage.document_id, 0.0),
            1.0 / (1 + passage.rank),
            *(float(passage.kind == kind) for kind in KINDS),
        )
        out.append(
            Candidate(passage.document_id, passage.kind, passage.document_id in relevant, features)
        )
    return out


def collect(corpus: Path, data: Path) -> dict[str, list[Question]]:
    """Candidates and the shipped choice for every question, sample and degraded."""
    from assistant.bot.answer_eval import load_cases, load_corpus
    from assistant.bot.compose import compose
    from assistant.bot.suggest import Suggester, ticket_query
    from assistant.db import connect
    from assistant.knowledge.evaluation.degrade import DEFAULT_SEED, degrade_queries
    from assistant.knowledge.index.indexing import index_documents
    from assistant.knowledge.index.store import KnowledgeStore
    from assistant.knowledge.search.retrieval import Retriever
    from flows.runtime import Runtime

    cases, docs = load_cases(data), load_corpus(corpus)
    runtime = Runtime.from_environment()
    passes: dict[str, list[Question]] = {}
    with connect(runtime.database_url(), autocommit=True) as conn:
        schema = f"kb_draftsel_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        store = KnowledgeStore.create_scratch(conn, schema)
        try:
            index_documents(store, docs, runtime.settings, full=True)
            retriever = Retriever.open(conn, runtime.settings, schema=schema)
            suggester = Suggester(retriever, None, None, section_loader=store.document_sections)
            embedder = getattr(retriever, "embedder", None)
            plain = {case.id: case.question for case in cases}
            for name, texts in (
                ("sample", plain),
                ("degraded", degrade_queries(plain, DEFAULT_SEED)),
            ):
                questions = []
                for case in cases:
                    subject, _, description = texts[case.id].partition("\n")
                    query = ticket_query(subject, description)
                    pages, tickets, _, _ = suggester._retrieve(query)
                    # the bot's own composition (what `Suggester.suggest` posts without an LLM)
                    composition = compose(query, pages, tickets, store.document_sections, embedder)
                    shipped = composition.draft_source
                    relevant = case.relevant_doc_ids
                    questions.append(
                        Question(
                            case.id,
                            shipped is not None and shipped.document_id in relevant,
                            _candidates(composition, embedder, [*tickets, *pages], relevant),
                            str(tickets[0].document_id) if tickets else None,
                            str(pages[0].document_id) if pages else None,
                        )
                    )
                passes[name] = questions
        finally:
            store.drop()
    return passes


def fitted_chooser(passes: dict[str, list[Question]]) -> dict[str, int]:
    """Relevant drafts of a logistic regression scored in grouped 5-fold CV."""
    from sklearn.linear_model import LogisticRegression

    ids = sorted({q.case_id for questions in passes.values() for q in questions})
    order = np.random.default_rng(0).permutation(len(ids))
    fold_of = {ids[index]: position % FOLDS for position, index in enumerate(order)}
    hits = dict.fromkeys(passes, 0)
    for fold in range(FOLDS):
        train = [
            c
            for questions in passes.values()
            for q in questions
            if fold_of[q.case_id] != fold
            for c in q.candidates
        ]
        labels = [c.relevant for c in train]
        if len(set(labels)) < 2:
            continue
        model = LogisticRegression(max_iter=2000).fit([c.features for c in train], labels)
        for name, questions in passes.items():
            for q in questions:
                if fold_of[q.case_id] == fold and q.candidates:
                    scores = model.decision_function([c.features for c in q.candidates])
                    hits[name] += q.candidates[int(np.argmax(scores))].relevant
    return hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=EVAL / "corpus.jsonl")
    parser.add_argument("--data", type=Path, default=EVAL / "answers.jsonl")
    args = parser.parse_args()
    passes = collect(args.corpus, args.data)
    fitted = fitted_chooser(passes)

    def relevant_first(q: Question, doc: str | None) -> bool:
        return doc is not None and any(c.document_id == doc and c.relevant for c in q.candidates)

    rows = {
        "shipped chooser (compose.py)": lambda q: q.shipped_relevant,
        "first past ticket": lambda q: relevant_first(q, q.first_ticket),
        "first page": lambda q: relevant_first(q, q.first_page),
        "perfect chooser (a relevant candidate)": lambda q: any(c.relevant for c in q.candidates),
    }

    def line(label: str, cells: list[float]) -> None:
        print(f"{label:44}" + "".join(f"{cell:>12.1%}" for cell in cells))

    print(f"{'draft from a relevant document':44}" + "".join(f"{n:>12}" for n in passes))
    for label, rule in rows.items():
        line(label, [sum(map(rule, questions)) / len(questions) for questions in passes.values()])
        if label == "first page":
            line(
                "fitted on these labels, 5-fold CV",
                [fitted[name] / len(questions) for name, questions in passes.items()],
            )


if __name__ == "__main__":
    main()
