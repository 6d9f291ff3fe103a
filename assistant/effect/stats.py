"""Effect estimates for the assistant: treatment vs holdout, pre/post DiD, and the MDE.

The primary outcome is the median first-response time in business minutes (FRT-bm).
Estimates are intent-to-treat (the arm logged at decision time), standardised to the
pre-period category mix so that a shift toward easy categories cannot pose as an
effect, with percentile bootstrap 95 % CIs. See docs/effect-measurement.md §4.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

Z_975 = 1.959963984540054
Z_80 = 0.8416212335729143
# Below this many answered tickets in an arm a median (and its bootstrap) is noise.
MIN_ARM_TICKETS = 5
INSUFFICIENT_METHOD = "insufficient_data"


@dataclass(frozen=True)
class TicketOutcome:
    """One ticket's inputs to the estimators."""

    arm: str  # pre_rollout | treatment | holdout
    category: str
    value: float | None  # the metric (minutes); None while censored
    would_be_arm: str | None = None  # for pre-rollout tickets: the arm the hash gives


@dataclass(frozen=True)
class Estimate:
    """One row of the effect table."""

    metric: str
    segment: str
    comparison: str
    method: str
    n_control: int
    n_treated: int
    control_value: float | None
    treated_value: float | None
    rel_change: float | None
    ci95_low: float | None
    ci95_high: float | None
    mde_80: float | None
    extra: dict[str, float] = field(default_factory=dict)


def weighted_median(values: NDArray[np.float64], weights: NDArray[np.float64]) -> float:
    """The median of a weighted sample (lower weighted median, interpolated at 0.5)."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    cumulative = np.cumsum(weights[order])
    cutoff = cumulative[-1] / 2.0
    index = int(np.searchsorted(cumulative, cutoff))
    return float(sorted_values[min(index, len(sorted_values) - 1)])


def standardisation_weights(
    categories: Sequence[str], reference_shares: dict[str, float]
) -> NDArray[np.float64]:
    """Per-ticket weights that give the sample the reference category mix."""
    cats = np.asarray(categories)
    weights = np.zeros(len(cats), dtype=float)
    for category, share in reference_shares.items():
        mask = cats == category
        if mask.any():
            weights[mask] = share / mask.sum()
    if weights.sum() == 0:  # no overlap with the reference: fall back to equal weights
        weights[:] = 1.0
    return weights


def category_shares(categories: Sequence[str]) -> dict[str, float]:
    values, counts = np.unique(np.asarray(categories), return_counts=True)
    total = counts.sum()
    return {str(v): float(c / total) for v, c in zip(values, counts, strict=True)}


def _observed(outcomes: Sequence[TicketOutcome], arm: str) -> tuple[NDArray[np.float64], list[str]]:
    rows = [o for o in outcomes if o.arm == arm and o.value is not None and o.value >= 0]
    return np.array([o.value for o in rows], dtype=float), [o.category for o in rows]


def mde_relative(sigma_log: float, n_treated: int, n_control: int) -> float | None:
    """Smallest relative change in the median detectable with 80 % power at α = 0.05.

    Medians are π/2 less efficient than log-means, hence the sqrt(π/2) factor.
    """
    if n_treated < 2 or n_control < 2 or not np.isfinite(sigma_log):
        return None
    shift = (Z_975 + Z_80) * sigma_log * np.sqrt(np.pi / 2) * np.sqrt(1 / n_treated + 1 / n_control)
    return float(1.0 - np.exp(-shift))


def treatment_vs_holdout(
    outcomes: Sequence[TicketOutcome],
    metric: str,
    *,
    segment: str = "ALL",
    n_boot: int = 2000,
    seed: int = 20260803,
) -> Estimate | None:
    """Ratio of weighted medians (treatment / holdout − 1) with a bootstrap 95 % CI."""
    treated, treated_cats = _observed(outcomes, "treatment")
    control, control_cats = _observed(outcomes, "holdout")
    if len(treated) < MIN_ARM_TICKETS or len(control) < MIN_ARM_TICKETS:
        return None
    pre_cats = [o.category for o in outcomes if o.arm == "pre_rollout" and o.value is not None]
    reference = (
        category_shares(pre_cats) if pre_cats else category_shares(treated_cats + control_cats)
    )
    w_t = standardisation_weights(treated_cats, reference)
    w_c = standardisation_weights(control_cats, reference)
    med_t = weighted_median(treated, w_t)
    med_c = weighted_median(control, w_c)
    rng = np.random.default_rng(seed)
    ratios = np.empty(n_boot)
    for i in range(n_boot):
        it = rng.integers(0, len(treated), len(treated))
        ic = rng.integers(0, len(control), len(control))
        boot_c = weighted_median(control[ic], w_c[ic])
        ratios[i] = weighted_median(treated[it], w_t[it]) / boot_c if boot_c > 0 else np.nan
    ratios = ratios[np.isfinite(ratios)]
    low, high = np.percentile(ratios, [2.5, 97.5]) - 1.0 if len(ratios) else (np.nan, np.nan)
    positive = np.concatenate([treated[treated > 0], control[control > 0]])
    sigma = float(np.std(np.log(positive), ddof=1)) if len(positive) > 2 else float("nan")
    return Estimate(
        metric=metric,
        segment=segment,
        comparison="treatment_vs_holdout",
        method="bootstrap_weighted_median_ratio",
        n_control=len(control),
        n_treated=len(treated),
        control_value=med_c,
        treated_value=med_t,
        rel_change=(med_t / med_c - 1.0) if med_c > 0 else None,
        ci95_low=float(low),
        ci95_high=float(high),
        mde_80=mde_relative(sigma, len(treated), len(control)),
        extra={"sigma_log": sigma, "n_boot": float(len(ratios))},
    )


def difference_in_differences(
    outcomes: Sequence[TicketOutcome],
    metric: str,
    *,
    n_boot: int = 2000,
    seed: int = 20260804,
) -> Estimate | None:
    """Pre/post DiD on log medians, with the hash arms carried back into the pre-period.

    [ln med(T_post) − ln med(T_pre)] − [ln med(H_post) − ln med(H_pre)], where T_pre / H_pre
    are pre-rollout tickets that the same hash would have put in each arm. This removes
    any baseline difference between the two hash groups and any common time trend.
    """
    groups: dict[str, NDArray[np.float64]] = {}
    for key, arm, would_be in (
        ("t_post", "treatment", None),
        ("h_post", "holdout", None),
        ("t_pre", "pre_rollout", "treatment"),
        ("h_pre", "pre_rollout", "holdout"),
    ):
        groups[key] = np.array(
            [
                o.value
                for o in outcomes
                if o.arm == arm
                and (would_be is None or o.would_be_arm == would_be)
                and o.value is not None
                and o.value > 0
            ],
            dtype=float,
        )
    if any(len(v) < MIN_ARM_TICKETS for v in groups.values()):
        return None

    def did(sample: dict[str, NDArray[np.float64]]) -> float:
        med = {k: np.median(v) for k, v in sample.items()}
        return float(
            (np.log(med["t_post"]) - np.log(med["t_pre"]))
            - (np.log(med["h_post"]) - np.log(med["h_pre"]))
        )

    point = did(groups)
    rng = np.random.default_rng(seed)
    boots = np.array(
        [
            did({k: v[rng.integers(0, len(v), len(v))] for k, v in groups.items()})
            for _ in range(n_boot)
        ]
    )
    low, high = np.percentile(boots, [2.5, 97.5])
    return Estimate(
        metric=metric,
        segment="ALL",
        comparison="post_vs_pre",
        method="did_log_median_hash_groups",
        n_control=len(groups["h_post"]) + len(groups["h_pre"]),
        n_treated=len(groups["t_post"]) + len(groups["t_pre"]),
        control_value=float(np.median(groups["h_post"])),
        treated_value=float(np.median(groups["t_post"])),
        rel_change=float(np.exp(point) - 1.0),
        ci95_low=float(np.exp(low) - 1.0),
        ci95_high=float(np.exp(high) - 1.0),
        mde_80=None,
    )


def estimate_all(
    outcomes_by_metric: dict[str, Sequence[TicketOutcome]], *, n_boot: int = 2000
) -> list[Estimate]:
    """Every estimate the effect table holds: overall, per category, and DiD."""
    estimates: list[Estimate] = []
    for metric, outcomes in outcomes_by_metric.items():
        overall = treatment_vs_holdout(outcomes, metric, n_boot=n_boot)
        if overall:
            estimates.append(overall)
        did = difference_in_differences(outcomes, metric, n_boot=n_boot)
        if did:
            estimates.append(did)
        for category in sorted({o.category for o in outcomes}):
            subset = [o for o in outcomes if o.category == category]
            per_category = treatment_vs_holdout(
                subset, metric, segment=category, n_boot=max(200, n_boot // 5)
            )
            estimates.append(per_category or insufficient(subset, metric, segment=category))
    return estimates


def insufficient(outcomes: Sequence[TicketOutcome], metric: str, *, segment: str) -> Estimate:
    """A row saying a segment has too few tickets to estimate, with the counts it has.

    Kept in the effect table so that the report lists such categories instead of
    silently dropping them.
    """
    treated, _ = _observed(outcomes, "treatment")
    control, _ = _observed(outcomes, "holdout")
    return Estimate(
        metric=metric,
        segment=segment,
        comparison="treatment_vs_holdout",
        method=INSUFFICIENT_METHOD,
        n_control=len(control),
        n_treated=len(treated),
        control_value=float(np.median(control)) if len(control) else None,
        treated_value=float(np.median(treated)) if len(treated) else None,
        rel_change=None,
        ci95_low=None,
        ci95_high=None,
        mde_80=None,
    )
