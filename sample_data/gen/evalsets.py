"""Evaluation sets derived from the history: categorisation and BEIR retrieval.

Queries are hand-written paraphrases that never appear in the history, so a retriever
must match symptoms to fixes rather than copy text.
"""

from __future__ import annotations

import random
from typing import Any

from sample_data.gen.confluence import KnowledgeBase
from sample_data.gen.content import Archetype, render
from sample_data.gen.form import PRIORITIES
from sample_data.gen.story import Story

TEST_SHARE = 0.2
NEW_TICKETS_PER_CATEGORY = 2


def categorize_rows(stories: list[Story], tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Closed history tickets: text = subject + description, label = staff category.

    Open tickets are left out: their category may not have been checked by staff yet.
    The latest 20 % by creation date form the test split.
    """
    closed = [
        (task["create_date"], story)
        for story, task in zip(stories, tasks, strict=True)
        if task["is_closed"]
    ]
    closed.sort(key=lambda item: (item[0], item[1].plan.task_id))
    cut = round(len(closed) * (1 - TEST_SHARE))
    return [
        {
            "id": story.plan.task_id,
            "text": f"{story.subject}\n{story.description}",
            "label": story.plan.archetype.category,
            "split": "train" if index < cut else "test",
        }
        for index, (_created, story) in enumerate(closed)
    ]


def resolved_ticket_docs(stories: list[Story], tasks: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Corpus documents for resolved tickets: the question and the staff resolution."""
    docs = []
    for story, task in zip(stories, tasks, strict=True):
        if task["is_closed"] and story.resolution:
            docs.append(
                {
                    "id": f"pyrus:{story.plan.task_id}",
                    "title": story.subject,
                    "text": f"{story.subject}\n{story.description}\n\nРешение:\n{story.resolution}",
                }
            )
    return docs


def beir(
    archetypes: list[Archetype],
    stories: list[Story],
    tasks: list[dict[str, Any]],
    kb: KnowledgeBase,
) -> tuple[list[dict[str, str]], list[dict[str, str]], list[tuple[str, str, int]]]:
    """(corpus, queries, qrels) in BEIR shape.

    Page relevance comes from `covers`: for each archetype the most specific live page
    (fewest covered archetypes, then lowest id) scores 3, other covering pages 2.
    Resolved history tickets of the same archetype score 2 (1 if they were reopened).
    """
    live = [page for page in kb.pages if page["deleted_at"] is None]
    corpus = [
        {
            "id": f"confluence:{page['id']}",
            "title": page["versions"][-1]["title"],
            "text": kb.text[page["id"]],
        }
        for page in live
    ]
    corpus += resolved_ticket_docs(stories, tasks)
    in_corpus = {doc["id"] for doc in corpus}
    queries: list[dict[str, str]] = []
    qrels: list[tuple[str, str, int]] = []
    for arch in archetypes:
        covering = sorted(
            (page for page in live if arch.key in kb.covers[page["id"]]),
            key=lambda page: (len(kb.covers[page["id"]]), int(page["id"])),
        )
        for query in arch.queries:
            qid = f"q{len(queries) + 1:03d}"
            queries.append({"id": qid, "text": f"{query.subject}\n{query.text}"})
            for rank, page in enumerate(covering):
                qrels.append((qid, f"confluence:{page['id']}", 3 if rank == 0 else 2))
            for story in stories:
                doc_id = f"pyrus:{story.plan.task_id}"
                if story.plan.archetype.key == arch.key and doc_id in in_corpus:
                    qrels.append((qid, doc_id, 1 if story.reopened else 2))
    return corpus, queries, qrels


def new_tickets(
    archetypes: list[Archetype], common: dict[str, Any], rng: random.Random
) -> list[dict[str, str]]:
    """Fresh tickets for the bot demo: the first queries of each category's archetypes."""
    taken: dict[str, int] = {}
    result = []
    for arch in archetypes:
        if not arch.queries or taken.get(arch.category, 0) >= NEW_TICKETS_PER_CATEGORY:
            continue
        taken[arch.category] = taken.get(arch.category, 0) + 1
        query = arch.queries[0]
        result.append(
            {
                "subject": query.subject,
                "description": query.text,
                "category_code": arch.category,
                "client": rng.choice(common["client_orgs"]),
                "priority": rng.choices(PRIORITIES, weights=[10, 60, 25, 5], k=1)[0],
                "archetype": arch.key,
            }
        )
    return result


def answer_rows(
    archetypes: list[Archetype],
    queries: list[dict[str, str]],
    qrels: list[tuple[str, str, int]],
    common: dict[str, Any],
) -> list[dict[str, Any]]:
    """`kb eval answers` lines for the BEIR queries: reference = the archetype's staff reply.

    Queries are numbered in archetype order by `beir`, so walking the archetypes the same
    way pairs each query with its archetype. The reply's placeholders get fixed neutral
    values (no rng draw, so the rest of the dataset is unchanged). Relevant documents are
    the query's qrels with score ≥ 2: covering pages and resolved, not reopened, tickets.
    """
    form = common["forms"][0]
    slots = {
        "form": form["name"],
        "field": form["fields"][0],
        "task": "200000000",
        "num": "1000",
        "person": "Иван Петров",
        "org": "ООО «Пример»",
        "first_name": "Анна",
        "org_domain": "example.ru",
        "contract": "2025-ПР-0001",
    }
    relevant: dict[str, list[str]] = {}
    for qid, doc_id, score in qrels:
        if score >= 2:
            relevant.setdefault(qid, []).append(doc_id)
    pairs = [(arch, query) for arch in archetypes for query in arch.queries]
    return [
        {
            "id": row["id"],
            "question": row["text"],
            "reference_answer": render(arch.answer, slots),
            "relevant_doc_ids": relevant.get(row["id"], []),
            "archetype": arch.key,
        }
        for row, (arch, _query) in zip(queries, pairs, strict=True)
    ]
