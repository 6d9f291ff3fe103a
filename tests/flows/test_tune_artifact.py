"""The tune artifact shows before / after validation figures and the decision."""

from __future__ import annotations

from flows.tune import artifact_rows


def test_rows_pair_current_and_candidate_figures() -> None:
    summary = {
        "reason": "activated: validation MRR@10 0.41 → 0.47",
        "before": {"mrr@10": 0.41, "hit@1": 0.3},
        "after": {"mrr@10": 0.47, "hit@1": 0.35},
    }
    assert artifact_rows(summary) == [
        {"metric": "mrr@10", "current": "0.41", "candidate": "0.47"},
        {"metric": "hit@1", "current": "0.3", "candidate": "0.35"},
        {"metric": "decision", "current": "", "candidate": summary["reason"]},
    ]


def test_a_skipped_fit_still_says_why() -> None:
    rows = artifact_rows({"reason": "42 labelled tickets, fewer than the 100 needed to tune"})
    assert rows == [{"metric": "decision", "current": "", "candidate": rows[0]["candidate"]}]
    assert "fewer than the 100" in rows[0]["candidate"]
