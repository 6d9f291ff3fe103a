"""A degraded copy of an evaluation set's queries: typos, dropped words, truncation.

Why: the sample queries are clean paraphrases that share many words with their pages,
so they flatter lexical legs; real tickets have typos, missing words and cut-off text.
Fusion weights and the no-match threshold are chosen on the sample *and* this copy
(`assistant.knowledge.evaluation.calibrate`), and the README reports both.

Deterministic: each query is degraded by its own `random.Random(f"{seed}:{query_id}")`,
so a rerun writes the same file::

    .venv/bin/python -m assistant.knowledge.evaluation.degrade \\
        sample_data/dataset/eval/queries.jsonl /tmp/queries_degraded.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

DEFAULT_SEED = 14
TYPO_RATE = 0.15  # share of words (4+ letters) that get one typo
DROP_RATE = 0.15  # share of words dropped
KEEP_RATIO = 0.7  # the body is cut to this share of its words (at least MIN_WORDS)
MIN_WORDS = 8

# neighbours on the Russian ЙЦУКЕН layout, for replacement typos
_ROWS = ("йцукенгшщзхъ", "фывапролджэ", "ячсмитьбю")
_NEIGHBOURS = {
    ch: row[max(0, i - 1) : i] + row[i + 1 : i + 2] for row in _ROWS for i, ch in enumerate(row)
}
_WORD = re.compile(r"\w+", re.UNICODE)


def typo(word: str, rng: random.Random) -> str:
    """One keyboard-like error: swap, delete, double or replace a letter."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("swap", "delete", "double", "replace"))
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "delete":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    near = _NEIGHBOURS.get(word[i].lower())
    return word[:i] + rng.choice(near) + word[i + 1 :] if near else word


def degrade(text: str, rng: random.Random) -> str:
    """The subject line kept (with typos), the body cut, thinned and misspelt."""
    subject, _, body = text.partition("\n")
    words = body.split()
    keep = max(MIN_WORDS, round(len(words) * KEEP_RATIO))
    words = words[:keep]
    words = [w for i, w in enumerate(words) if i == 0 or rng.random() >= DROP_RATE]

    def misspell(token: str) -> str:
        return _WORD.sub(
            lambda m: typo(m.group(0), rng) if rng.random() < TYPO_RATE else m.group(0), token
        )

    subject = " ".join(misspell(w) for w in subject.split())
    body = " ".join(misspell(w) for w in words)
    return f"{subject}\n{body}" if body else subject


def degrade_queries(queries: dict[str, str], seed: int = DEFAULT_SEED) -> dict[str, str]:
    return {qid: degrade(text, random.Random(f"{seed}:{qid}")) for qid, text in queries.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a degraded copy of BEIR queries.")
    parser.add_argument("source", type=Path, help="BEIR queries.jsonl")
    parser.add_argument("target", type=Path, help="where to write the degraded queries")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.source.read_text("utf-8").splitlines() if line]
    queries = {str(row.get("_id", row.get("id"))): str(row["text"]) for row in rows}
    degraded = degrade_queries(queries, args.seed)
    lines = [
        json.dumps({"_id": qid, "text": text}, ensure_ascii=False) for qid, text in degraded.items()
    ]
    args.target.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
