"""The effect estimators recover a planted effect on synthetic data."""

from __future__ import annotations

import numpy as np

from assistant.effect.stats import (
    TicketOutcome,
    difference_in_differences,
    mde_relative,
    standardisation_weights,
    treatment_vs_holdout,
    weighted_median,
)


def synthetic(effect: float, n: int = 1500, seed: int = 1) -> list[TicketOutcome]:
    rng = np.random.default_rng(seed)
    rows = []
    base = {"a": 60.0, "b": 240.0}
    for i in range(n):
        category = "a" if rng.random() < 0.5 else "b"
        period = "pre" if i < n // 2 else "post"
        would_be = "holdout" if rng.random() < 0.2 else "treatment"
        value = base[category] * float(np.exp(rng.normal(0, 0.8)))
        if period == "post" and would_be == "treatment":
            value *= 1 + effect
        arm = "pre_rollout" if period == "pre" else would_be
        rows.append(TicketOutcome(arm=arm, category=category, value=value, would_be_arm=would_be))
    return rows


def test_weighted_median_matches_plain_median_with_equal_weights() -> None:
    values = np.array([5.0, 1.0, 3.0, 2.0, 4.0])
    assert weighted_median(values, np.ones(5)) == 3.0


def test_standardisation_weights_follow_the_reference_mix() -> None:
    weights = standardisation_weights(["a", "a", "a", "b"], {"a": 0.5, "b": 0.5})
    assert np.isclose(weights[:3].sum(), weights[3])


def test_treatment_vs_holdout_recovers_the_planted_effect() -> None:
    estimate = treatment_vs_holdout(synthetic(-0.25), "frt_bm", n_boot=400)
    assert estimate is not None
    assert estimate.ci95_low < -0.25 < estimate.ci95_high
    assert estimate.rel_change is not None
    assert abs(estimate.rel_change + 0.25) < 0.12


def test_null_effect_ci_covers_zero() -> None:
    estimate = treatment_vs_holdout(synthetic(0.0, seed=3), "frt_bm", n_boot=400)
    assert estimate is not None
    assert estimate.ci95_low < 0 < estimate.ci95_high


def test_did_recovers_the_planted_effect() -> None:
    estimate = difference_in_differences(synthetic(-0.25, n=3000), "frt_bm", n_boot=300)
    assert estimate is not None
    assert estimate.ci95_low < -0.25 < estimate.ci95_high


def test_too_few_tickets_give_no_estimate() -> None:
    rows = [TicketOutcome("treatment", "a", 10.0), TicketOutcome("holdout", "a", 12.0)]
    assert treatment_vs_holdout(rows, "frt_bm") is None


def test_mde_shrinks_with_sample_size() -> None:
    small = mde_relative(1.2, 100, 25)
    large = mde_relative(1.2, 1000, 250)
    assert small is not None
    assert large is not None
    assert 0 < large < small < 1
