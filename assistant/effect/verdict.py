"""The verdict paragraph: what the estimates say, in words a support lead acts on.

A row like −24.1 % [−38.5 %; +4.8 %] with an MDE of 33.7 % means "not shown yet, the
sample is too small", and the reader should not have to work that out. The wording is
generated from the estimates only: whether the 95 % CI excludes zero (shown or not),
whether the sample could detect an effect of the observed size (the MDE), and how many
tickets that would take. The method is docs/effect-measurement.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.effect.labels import Labels
from assistant.effect.stats import INSUFFICIENT_METHOD, Estimate

PRIMARY_METRIC = "frt_bm"
PRIMARY_COMPARISON = "treatment_vs_holdout"
# Effects smaller than this are not worth a rollout decision; "tickets needed" is
# computed for max(|observed effect|, this), so a near-zero estimate does not ask
# for millions of tickets.
SMALLEST_EFFECT_OF_INTEREST = 0.10

# Lower is better for times and reopen rates; these metrics are better when higher.
HIGHER_IS_BETTER = frozenset({"frt_sla_attainment"})

SHOWN_BETTER = "shown_better"
SHOWN_WORSE = "shown_worse"
NOT_SHOWN_UNDERPOWERED = "not_shown_underpowered"
NOT_SHOWN = "not_shown"
NO_ESTIMATE = "no_estimate"


@dataclass(frozen=True)
class Verdict:
    """The headline status and its paragraph(s), plain text in Russian."""

    status: str
    paragraphs: tuple[str, ...]
    tickets_needed: int | None = None


def pct(value: float | None, *, signed: bool = True) -> str:
    """`-0.241` → `−24,1 %` (Russian decimal comma, a real minus sign)."""
    if value is None or not math.isfinite(value):
        return "—"
    text = f"{100 * value:+.1f}" if signed else f"{100 * abs(value):.1f}"
    return text.replace("-", "−").replace(".", ",") + " %"


def ci_text(estimate: Estimate) -> str:
    return f"95 % ДИ от {pct(estimate.ci95_low)} до {pct(estimate.ci95_high)}"


def is_shown(estimate: Estimate) -> bool:
    """The 95 % CI excludes zero."""
    low, high = estimate.ci95_low, estimate.ci95_high
    return low is not None and high is not None and (high < 0 or low > 0)


def tickets_needed(estimate: Estimate, effect: float) -> int | None:
    """Total tickets (both arms, same split) at which the MDE falls to `effect`.

    The MDE's log-shift scales with sqrt(1/n_t + 1/n_c), i.e. with 1/sqrt(N) at a fixed
    split, so N_needed = N_now · (shift_now / shift_wanted)².
    """
    mde = estimate.mde_80
    n_now = estimate.n_treated + estimate.n_control
    if mde is None or not 0 < mde < 1 or not 0 < effect < 1 or n_now <= 0:
        return None
    shift_now, shift_wanted = -math.log(1 - mde), -math.log(1 - effect)
    return math.ceil(n_now * (shift_now / shift_wanted) ** 2)


def _direction(estimate: Estimate) -> str:
    return "меньше" if (estimate.rel_change or 0.0) < 0 else "больше"


def better_when(metric: str) -> str:
    """«меньше» or «больше»: which way the metric should move with the assistant."""
    return "больше" if metric in HIGHER_IS_BETTER else "меньше"


def is_improvement(estimate: Estimate) -> bool:
    """The estimate moved the metric the better way (whether shown or not)."""
    change = estimate.rel_change or 0.0
    return change > 0 if estimate.metric in HIGHER_IS_BETTER else change < 0


def wrong_way_sentences(estimates: Sequence[Estimate], labels: Labels) -> list[str]:
    """One sentence per overall metric that moved the worse way, assistant vs control."""
    sentences = []
    for e in estimates:
        if (
            e.segment != "ALL"
            or e.comparison != PRIMARY_COMPARISON
            or e.method == INSUFFICIENT_METHOD
            or not e.rel_change
            or is_improvement(e)
        ):
            continue
        name = labels.metric(e.metric).name
        weight = (
            "Интервал не включает ноль: ухудшение, скорее всего, настоящее — стоит "
            "разобраться по категориям."
            if is_shown(e)
            else "Интервал включает ноль: это может быть случайным колебанием; стоит "
            "следить за этой метрикой в следующих отчётах."
        )
        sentences.append(
            f"{name} с ассистентом на {pct(e.rel_change, signed=False)} {_direction(e)}, "
            f"чем в контрольной группе, а лучше, когда {better_when(e.metric)} "
            f"({ci_text(e)}). {weight}"
        )
    return sentences


def headline(estimates: Sequence[Estimate], labels: Labels) -> Verdict:
    """The verdict on the primary metric (median first response, assistant vs control)."""
    primary = next(
        (
            e
            for e in estimates
            if e.metric == PRIMARY_METRIC
            and e.segment == "ALL"
            and e.comparison == PRIMARY_COMPARISON
            and e.method != INSUFFICIENT_METHOD
        ),
        None,
    )
    metric = labels.metric(PRIMARY_METRIC).name.lower()
    if primary is None or primary.rel_change is None:
        return Verdict(
            NO_ESTIMATE,
            (
                "Оценки эффекта пока нет: после запуска слишком мало обращений с ответом "
                "в группе с ассистентом или в контрольной группе (нужно хотя бы по 5).",
            ),
        )
    arms = f"{primary.n_treated} обращений с ассистентом и {primary.n_control} в контрольной группе"
    size = pct(primary.rel_change, signed=False)
    change = (
        f"{metric.capitalize()} с ассистентом на {size} {_direction(primary)}, чем в "
        f"контрольной группе ({ci_text(primary)}; {arms})."
    )
    if is_shown(primary):
        status = SHOWN_BETTER if primary.rel_change < 0 else SHOWN_WORSE
        lead = (
            "Эффект показан: ассистент ускоряет первый ответ."
            if status == SHOWN_BETTER
            else "Показано ухудшение: с ассистентом первый ответ медленнее."
        )
        return Verdict(status, (f"{lead} {change} Интервал не включает ноль.",))
    mde = primary.mde_80
    target = max(abs(primary.rel_change), SMALLEST_EFFECT_OF_INTEREST)
    if mde is not None and mde > target:
        needed = tickets_needed(primary, target)
        more = (
            f" Чтобы надёжно обнаружить изменение в {pct(target, signed=False)}, нужно около "
            f"{needed} обращений в обеих группах вместе — ещё примерно "
            f"{max(needed - primary.n_treated - primary.n_control, 0)}."
            if needed
            else ""
        )
        return Verdict(
            NOT_SHOWN_UNDERPOWERED,
            (
                f"Эффект пока не показан: данных недостаточно. {change} Интервал включает "
                "ноль, то есть разница может быть случайной. При такой выборке надёжно "
                f"(мощность 80 %) обнаруживается только изменение от {pct(mde, signed=False)} "
                f"(MDE).{more}",
            ),
            needed,
        )
    bound = (
        f" Если эффект есть, он, скорее всего, меньше {pct(mde, signed=False)} (MDE)."
        if mde
        else ""
    )
    return Verdict(
        NOT_SHOWN,
        (f"Эффект не обнаружен. {change} Интервал включает ноль.{bound}",),
    )


def did_sentence(estimates: Sequence[Estimate]) -> str | None:
    """How the difference-in-differences check agrees with the headline."""
    did = next(
        (
            e
            for e in estimates
            if e.metric == PRIMARY_METRIC and e.comparison == "post_vs_pre" and e.segment == "ALL"
        ),
        None,
    )
    if did is None or did.rel_change is None:
        return None
    outcome = "тоже показывает эффект" if is_shown(did) else "эффекта не показывает"
    return (
        f"Проверка разностью разностей (изменение до → после запуска в группе с ассистентом "
        f"против того же изменения в контрольной группе): {pct(did.rel_change)} "
        f"({ci_text(did)}) — {outcome}."
    )


def category_sentences(estimates: Sequence[Estimate], labels: Labels) -> list[str]:
    """Which categories show an effect, and which lack the data to say."""
    rows = [
        e
        for e in estimates
        if e.metric == PRIMARY_METRIC and e.segment != "ALL" and e.comparison == PRIMARY_COMPARISON
    ]
    shown = [e for e in rows if e.method != INSUFFICIENT_METHOD and is_shown(e)]
    lacking = [e for e in rows if e.method == INSUFFICIENT_METHOD]
    estimated = [e for e in rows if e.method != INSUFFICIENT_METHOD]
    sentences: list[str] = []
    if shown:
        listed = "; ".join(
            f"{labels.segment(e.segment)} {pct(e.rel_change)}"
            for e in sorted(shown, key=lambda e: e.rel_change or 0)
        )
        sentences.append(
            f"По категориям интервал не включает ноль в {len(shown)} из {len(estimated)}: "
            f"{listed}. Категорий много, поэтому отдельные совпадения возможны — это "
            "описательные оценки, не отдельные выводы."
        )
    elif estimated:
        sentences.append(
            f"Ни в одной из {len(estimated)} категорий с оценкой эффект отдельно не показан."
        )
    if lacking:
        names = ", ".join(
            f"{labels.segment(e.segment)} ({e.n_treated}/{e.n_control})" for e in lacking
        )
        sentences.append(
            f"Недостаточно данных (меньше 5 обращений с ответом в одной из групп; "
            f"в скобках — с ассистентом/контроль): {names}."
        )
    return sentences


def verdict(estimates: Sequence[Estimate], labels: Labels) -> Verdict:
    """The whole verdict: headline, the DiD check and the categories."""
    head = headline(estimates, labels)
    extra = [s for s in [did_sentence(estimates), *category_sentences(estimates, labels)] if s]
    return Verdict(head.status, (*head.paragraphs, *extra), head.tickets_needed)
