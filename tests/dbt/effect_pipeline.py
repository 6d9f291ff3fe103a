"""The sample-data effect pipeline, shared by the effect tests.

Loads `sample_data/dataset` (Pyrus form + tasks) into `raw` the way the landing code
stores them, runs dbt, replays the bot over the post-rollout history with the real
`Suggester` (LLM off, so it takes its retrieval-only path) over a small TF-IDF retriever
on the sample Confluence pages, rebuilds the marts, scores the drafts and estimates.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Jsonb
from sklearn.feature_extraction.text import TfidfVectorizer

from assistant.bot.suggest import Suggester
from assistant.db import libpq_environment
from assistant.knowledge.search.retrieval import SearchHit, SearchResult

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "sample_data" / "dataset"
PROJECT = ROOT / "dbt_project"
TAG = re.compile(r"<[^>]+>")


def load_sample_raw(url: str) -> int:
    """Insert the sample form and tasks into raw (as extract would); returns task count."""
    batch = uuid.uuid4()
    form = json.loads((DATASET / "pyrus_form.json").read_text(encoding="utf-8"))
    rows = []
    for line in (DATASET / "pyrus_tasks.jsonl").read_text(encoding="utf-8").splitlines():
        task = json.loads(line)
        digest = hashlib.sha256(line.encode()).hexdigest()
        rows.append(
            (task["id"], task["form_id"], task["last_modified_date"], Jsonb(task), digest, batch)
        )
    with psycopg.connect(url) as conn:
        conn.execute(
            "insert into raw.pyrus_forms (form_id, payload, payload_hash, _batch_id)"
            " values (%s, %s, %s, %s) on conflict do nothing",
            (form["id"], Jsonb(form), "sample", batch),
        )
        with conn.cursor() as cursor:
            cursor.executemany(
                "insert into raw.pyrus_tasks"
                " (task_id, form_id, last_modified_at, payload, payload_hash, _batch_id)"
                " values (%s, %s, %s, %s, %s, %s) on conflict do nothing",
                rows,
            )
    return len(rows)


def run_dbt(url: str, select: list[str], work_dir: Path, dbt_vars: dict[str, Any]) -> None:
    """`dbt build` through H4's runner (flows/dbt_runner.py), or in-process directly."""
    try:
        from flows import dbt_runner
    except ImportError:  # the runner is not in this checkout: same call, by hand
        dbt_runner = None
    if dbt_runner is not None:
        dbt_runner.build(url, work_dir=work_dir, select=select, dbt_vars=dbt_vars)
        return
    os.environ.update(libpq_environment(url))
    from dbt.cli.main import dbtRunner

    args = ["build", "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT)]
    args += ["--target-path", str(work_dir / "target"), "--log-path", str(work_dir / "logs")]
    args += ["--vars", json.dumps(dbt_vars), "--quiet"]
    if select:
        args += ["--select", *select]
    result = dbtRunner().invoke(args)
    assert result.success, f"dbt build failed: {result.exception}"


class PageRetriever:
    """TF-IDF over the sample Confluence pages; below `min_score` counts as no good match."""

    def __init__(self, min_score: float = 0.12) -> None:
        pages = json.loads((DATASET / "confluence_pages.json").read_text(encoding="utf-8"))
        self.pages = []
        for page in pages:
            latest = page["versions"][-1]
            text = " ".join(TAG.sub(" ", latest.get("storage") or "").split())
            self.pages.append((page["id"], latest["title"], text))
        self.vectorizer = TfidfVectorizer(sublinear_tf=True)
        self.matrix = self.vectorizer.fit_transform([f"{t} {b}" for _, t, b in self.pages])
        self.min_score = min_score

    def search(
        self, query: str, *, k: int = 8, source: str | None = None, category: str | None = None
    ) -> SearchResult:
        del category
        if source == "pyrus":
            return SearchResult([], True, "tfidf-test")
        scores = (self.matrix @ self.vectorizer.transform([query]).T).toarray().ravel()
        order = np.argsort(-scores)[:k]
        hits = [
            SearchHit(
                f"{self.pages[i][0]}:0",
                self.pages[i][0],
                "confluence",
                self.pages[i][1],
                f"https://wiki.example.ru/pages/{self.pages[i][0]}",
                self.pages[i][2][:200],
                self.pages[i][2],
                None,
                float(scores[i]),
            )
            for i in order
        ]
        return SearchResult(
            hits, not hits or hits[0].score < self.min_score, "tfidf-test", float(scores[order[0]])
        )


def make_suggester(conn: Any) -> Suggester:
    del conn
    return Suggester(PageRetriever(), categorizer=None, llm=None)


def planted_effect() -> float:
    metadata = json.loads((DATASET / "metadata.json").read_text(encoding="utf-8"))
    return float(metadata["planted_effect"]["relative_change"])
