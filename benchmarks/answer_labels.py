"""Benchmark: do answer labels recover the page each sample resolution came from?

Ground truth is the generator's: in sample_data/dataset/eval/qrels.tsv every query
belongs to one archetype; its relevance-3 page is the archetype's most specific page
(what the resolution was written from), relevance-2 pages also cover it, and the
resolved history tickets of that archetype are listed with it. So ticket → archetype
pages. Resolving replies are read from pyrus_tasks.jsonl (the last public staff reply
before the last close, as int_ticket_dialogues picks it); sections are the live pages
chunked by the indexer's own chunker.

Printed, per overlap margin: recall (share of resolved tickets whose label is a page
covering the ticket's archetype — and, stricter, its most specific page) and precision
(share of labels that are right); the margin chosen by 5-fold cross-validation (the
largest recall with precision ≥ 90 % on four folds, figures on the fifth); the same on a
degraded copy of the replies (typos, dropped words, truncation, shuffled sentences).

    .venv/bin/python -m benchmarks.answer_labels
    .venv/bin/python -m benchmarks.answer_labels --database-url "$(kb db url)"   # after kb demo:
        the same figures for the labels the `label` stage stored in kb.answer_labels
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from assistant.knowledge.index.chunking import KbDocument, chunk_document
from assistant.knowledge.learning.answer_overlap import OverlapIndex, OverlapMatch, Section
from sample_data.emulators.dataset import load_dataset, page_as_of, parse_ts

ROOT = Path(__file__).resolve().parents[1] / "sample_data" / "dataset"
MARGIN_GRID = (0.0, 0.01, 0.02, 0.03, 0.04, 0.06, 0.08, 0.1)
TARGET_PRECISION = 0.9


def sections(root: Path) -> list[Section]:
    dataset = load_dataset(root)
    as_of = parse_ts(dataset.metadata["date_range"]["end"])
    out = []
    for page in dataset.pages:
        view = page_as_of(page, as_of)
        if view is None or view["status"] != "current":
            continue
        doc = KbDocument(
            document_id=f"confluence:{page['id']}",
            source="confluence",
            title=view["version"]["title"],
            url="",
            body=view["version"]["storage"],
            category_code=None,
        )
        out += [Section(c.chunk_id, c.document_id, c.text) for c in chunk_document(doc)]
    return out


def resolving_replies(root: Path) -> dict[int, str]:
    """ticket id → the last public staff reply before the last close (closed tickets)."""
    replies = {}
    for line in (root / "pyrus_tasks.jsonl").read_text("utf-8").splitlines():
        task = json.loads(line)
        if not task.get("is_closed"):
            continue
        last_close = max(
            (c["create_date"] for c in task["comments"] if c.get("action") == "finished"),
            default="9999",
        )
        public = [
            c
            for c in task["comments"]
            if (c.get("author") or {}).get("department_name")
            and c.get("channel")
            and c.get("text")
            and c["create_date"] <= last_close
        ]
        if public:
            replies[task["id"]] = public[-1]["text"]
    return replies


def ground_truth(root: Path) -> dict[int, tuple[str | None, set[str]]]:
    """ticket id → (primary page, covering pages) from the generator's qrels."""
    by_query: dict[str, list[tuple[str, int]]] = defaultdict(list)
    with (root / "eval" / "qrels.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            by_query[row["query-id"]].append((row["corpus-id"], int(row["score"])))
    truth: dict[int, tuple[str | None, set[str]]] = {}
    for rows in by_query.values():
        pages = {doc: score for doc, score in rows if doc.startswith("confluence:")}
        primary = next((doc for doc, score in pages.items() if score == 3), None)
        for doc, _ in rows:
            if doc.startswith("pyrus:"):
                truth[int(doc.split(":", 1)[1])] = (primary, set(pages))
    return truth


def degrade(text: str, rng: random.Random) -> str:
    """A messier reply: shuffled sentences, dropped words, typos, truncated to 70 %."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]
    rng.shuffle(sentences)
    words = " ".join(sentences).split()
    kept = [w for w in words if rng.random() > 0.15]
    typo = []
    for word in kept:
        if len(word) > 4 and rng.random() < 0.15:
            i = rng.randrange(1, len(word) - 1)
            word = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        typo.append(word)
    return " ".join(typo[: max(5, int(len(typo) * 0.7))])


def score(
    matches: dict[int, OverlapMatch | None],
    truth: dict[int, tuple[str | None, set[str]]],
    tickets: list[int],
    min_margin: float,
) -> dict[str, float]:
    with_page = [t for t in tickets if truth.get(t, (None, set()))[0]]
    labelled = {t: m for t in tickets if (m := matches.get(t)) and m.clears(min_margin)}
    strict = sum(1 for t, m in labelled.items() if m.document_id == truth.get(t, (None,))[0])
    lenient = sum(1 for t, m in labelled.items() if m.document_id in truth.get(t, (None, set()))[1])
    found = {t: labelled[t].document_id for t in with_page if t in labelled}
    hit_primary = sum(1 for t, doc in found.items() if doc == truth[t][0])
    hit_any = sum(1 for t, doc in found.items() if doc in truth[t][1])
    n = len(labelled)
    return {
        "tickets": len(tickets),
        "tickets_with_page": len(with_page),
        "labelled": n,
        "recall_primary": round(hit_primary / len(with_page), 4) if with_page else 0.0,
        "recall_covering": round(hit_any / len(with_page), 4) if with_page else 0.0,
        "precision_primary": round(strict / n, 4) if n else 0.0,
        "precision_covering": round(lenient / n, 4) if n else 0.0,
    }


def choose(matches: Any, truth: Any, tickets: list[int]) -> float:
    """The margin with the best recall at ≥ 90 % precision (covering pages)."""
    best, best_key = MARGIN_GRID[-1], (-1.0, -1.0)
    for margin in MARGIN_GRID:
        figures = score(matches, truth, tickets, margin)
        ok = figures["precision_covering"] >= TARGET_PRECISION
        key = (figures["recall_covering"] if ok else -1.0, figures["precision_covering"])
        if key > best_key:
            best, best_key = margin, key
    return best


def cross_validate(matches: Any, truth: Any, tickets: list[int], folds: int = 5) -> dict[str, Any]:
    order = sorted(tickets)
    random.Random(7).shuffle(order)
    held: dict[int, OverlapMatch | None] = {}
    picks = []
    for fold in range(folds):
        test = set(order[fold::folds])
        margin = choose(matches, truth, [t for t in order if t not in test])
        picks.append(margin)
        for t in test:  # a fold's labels must clear the margin picked without it
            m = matches.get(t)
            held[t] = m if m and m.clears(margin) else None
    return {"picked_margins": picks, **score(held, truth, tickets, -1.0)}


def stored_labels(url: str, truth: dict[int, tuple[str | None, set[str]]]) -> dict[str, Any]:
    """Recall / precision of the Confluence labels the label stage stored (kb demo's data)."""
    import psycopg

    with psycopg.connect(url) as conn:
        labels = conn.execute(
            "select ticket_id, document_id, method, strength from kb.answer_labels"
            " where document_id like 'confluence:%' order by strength desc"
        ).fetchall()
        resolved = [
            r[0] for r in conn.execute("select ticket_id from intermediate.int_ticket_dialogues")
        ]
    tickets = [t for t in resolved if t in truth]
    matches = {}
    for ticket, document, _method, strength in labels:  # strongest label per ticket
        if ticket in truth and ticket not in matches:
            matches[ticket] = OverlapMatch(document, "", strength, 1.0)
    return score(matches, truth, tickets, 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--dataset", type=Path, default=ROOT)
    parser.add_argument("--database-url", help="score the labels stored in this database")
    args = parser.parse_args()
    if args.database_url:
        print(f"stored labels: {stored_labels(args.database_url, ground_truth(args.dataset))}")
        return
    index = OverlapIndex(sections(args.dataset))
    truth = ground_truth(args.dataset)
    replies = resolving_replies(args.dataset)
    tickets = sorted(t for t in replies if t in truth)
    rng = random.Random(20261206)
    for name, texts in (
        ("sample", replies),
        ("degraded", {t: degrade(text, rng) for t, text in replies.items()}),
    ):
        found = index.match_many([texts[t] for t in tickets])
        matches = dict(zip(tickets, found, strict=True))
        print(f"== {name}: {len(tickets)} resolved tickets, {len(index.sections)} sections")
        print(
            f"{'margin':>7} {'labelled':>9} {'recall':>8} {'precision':>10}"
            f" {'recall@primary':>15} {'precision@primary':>18}"
        )
        for margin in MARGIN_GRID:
            f = score(matches, truth, tickets, margin)
            print(
                f"{margin:>7} {f['labelled']:>9} {f['recall_covering']:>8.3f}"
                f" {f['precision_covering']:>10.3f} {f['recall_primary']:>15.3f}"
                f" {f['precision_primary']:>18.3f}"
            )
        print(f"5-fold CV: {cross_validate(matches, truth, tickets)}")
        print(f"margin picked on all {name} tickets: {choose(matches, truth, tickets)}")


if __name__ == "__main__":
    main()
