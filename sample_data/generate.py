"""Generate the sample dataset into ``sample_data/dataset`` (byte-identical on every run).

Usage: ``python -m sample_data.generate [--out DIR] [--seed N]``. Everything random goes
through one ``random.Random(seed)``; no wall-clock time is read, JSON is written in a
fixed key order, so a rerun reproduces the committed files exactly.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from collections import Counter
from pathlib import Path
from typing import Any

from sample_data.gen import calendar
from sample_data.gen.confluence import build_pages
from sample_data.gen.content import load_archetypes, load_categories, load_common
from sample_data.gen.evalsets import answer_rows, beir, categorize_rows, new_tickets
from sample_data.gen.form import FORM_ID, field_ids, form_response
from sample_data.gen.people import LEAD_ID, members_response
from sample_data.gen.plan import (
    DAY1_CUTOFF,
    DAY2_CUTOFF,
    HOLDOUT_SHARE,
    ROLLOUT_DATE,
    START_DATE,
    TREATMENT_MULTIPLIER,
)
from sample_data.gen.tasks import build_history, iso, realised_effect

logger = logging.getLogger(__name__)

DEFAULT_SEED = 20261124
DATASET_DIR = Path(__file__).resolve().parent / "dataset"


def _write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _write_jsonl(path: Path, rows: list[Any]) -> None:
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _day_changes(tasks: list[dict[str, Any]]) -> dict[str, int]:
    """Tickets created, and older tickets changed, between day1 and day2 cutoffs."""
    day1, day2 = iso(DAY1_CUTOFF), iso(DAY2_CUTOFF)
    new = sum(1 for t in tasks if day1 < t["create_date"] <= day2)
    changed = sum(
        1
        for t in tasks
        if t["create_date"] <= day1 and any(day1 < c["create_date"] <= day2 for c in t["comments"])
    )
    return {"new_tickets": new, "changed_tickets": changed}


def generate(out_dir: Path = DATASET_DIR, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Write every dataset file into `out_dir` and return the metadata."""
    rng = random.Random(seed)
    categories = load_categories()
    common = load_common()
    archetypes = load_archetypes()
    kb = build_pages(DAY1_CUTOFF, DAY2_CUTOFF)
    history = build_history(archetypes, common, categories, kb.sources, rng)
    tasks = history.tasks
    arms = {story.plan.task_id: story.plan.arm for story in history.stories}
    effect = realised_effect(tasks, arms)
    changes = _day_changes(tasks)
    if changes["new_tickets"] < 5 or changes["changed_tickets"] < 3:
        raise RuntimeError(f"day1→day2 window too quiet for the incremental demo: {changes}")
    corpus, queries, qrels = beir(archetypes, history.stories, tasks, kb)

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "eval").mkdir(exist_ok=True)
    _write_json(out_dir / "pyrus_form.json", form_response(categories, LEAD_ID))
    _write_json(out_dir / "pyrus_members.json", members_response())
    _write_jsonl(out_dir / "pyrus_tasks.jsonl", tasks)
    _write_json(out_dir / "confluence_pages.json", kb.pages)
    _write_jsonl(out_dir / "new_tickets.jsonl", new_tickets(archetypes, common, rng))
    _write_jsonl(out_dir / "categorize.jsonl", categorize_rows(history.stories, tasks))
    _write_jsonl(out_dir / "eval" / "corpus.jsonl", corpus)
    _write_jsonl(out_dir / "eval" / "queries.jsonl", queries)
    _write_jsonl(
        out_dir / "eval" / "answers.jsonl", answer_rows(archetypes, queries, qrels, common)
    )
    qrel_lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{s}" for q, d, s in qrels]
    (out_dir / "eval" / "qrels.tsv").write_text("\n".join(qrel_lines) + "\n", encoding="utf-8")

    arm_counts = Counter(arms.values())
    metadata = {
        "seed": seed,
        "form_id": FORM_ID,
        "field_ids": field_ids(),
        "date_range": {"start": START_DATE.isoformat(), "end": iso(DAY2_CUTOFF)},
        "day1_cutoff": iso(DAY1_CUTOFF),
        "day2_cutoff": iso(DAY2_CUTOFF),
        "day1_to_day2": changes,
        "rollout_date": ROLLOUT_DATE.isoformat(),
        "holdout_share": HOLDOUT_SHARE,
        "arms": {arm: arm_counts[arm] for arm in sorted(arm_counts)},
        "planted_effect": {
            "metric": "median_first_response_business_minutes",
            "relative_change": round(TREATMENT_MULTIPLIER - 1.0, 4),
            "realised_relative_change": effect["realised_relative_change"],
            "median_frt_bm": effect["median_frt_bm"],
            "answered_tickets": effect["answered"],
        },
        "counts": {
            "tickets": len(tasks),
            "comments": sum(len(t["comments"]) for t in tasks),
            "open_tickets": sum(1 for t in tasks if not t["is_closed"]),
            "reopened_tickets": sum(
                1 for t in tasks if any(c.get("action") == "reopened" for c in t["comments"])
            ),
            "pages": len(kb.pages),
            "pages_live_at_day2": sum(1 for p in kb.pages if p["deleted_at"] is None),
            "archetypes": len(archetypes),
            "categories": len(categories),
            "eval_queries": len(queries),
            "eval_corpus": len(corpus),
            "eval_qrels": len(qrels),
        },
        "business_hours": calendar.definition(),
    }
    _write_json(out_dir / "metadata.json", metadata)
    logger.info("wrote %d tickets and %d pages to %s", len(tasks), len(kb.pages), out_dir)
    return metadata


def main() -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATASET_DIR)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    metadata = generate(args.out, args.seed)
    print(json.dumps(metadata["counts"], ensure_ascii=False))


if __name__ == "__main__":
    main()
