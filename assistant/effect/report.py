"""The effect report: one self-contained HTML page with plots and the numbers.

Plots are rendered with matplotlib (Agg) into PNGs embedded as data URIs, so the page
opens offline, can be mailed, and is published as a Prefect artifact unchanged.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from datetime import date, datetime

import matplotlib

from assistant.effect.stats import Estimate

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ARM_LABELS = {"pre_rollout": "до запуска", "treatment": "с ассистентом", "holdout": "контроль"}
USAGE_LABELS = {
    "accepted": "принят как есть",
    "edited": "отредактирован",
    "ignored": "не использован",
    "not_exposed": "опоздал",
    "no_reply_yet": "нет ответа",
}


# A row of kb.effect_estimates is exactly what the estimators produce.
EffectRow = Estimate


@dataclass(frozen=True)
class WeeklyPoint:
    week: date
    arm: str
    median_frt_bm: float
    tickets: int


@dataclass(frozen=True)
class GapRow:
    week: date
    category: str
    tickets_without_good_match: int


@dataclass(frozen=True)
class ArmRow:
    """One raw comparison from the effect_arm_comparison mart (segment ALL)."""

    metric: str
    comparison: str
    statistic: str  # median | rate
    n_control: int
    n_treated: int
    control_value: float | None
    treated_value: float | None


@dataclass
class ReportData:
    generated_at: datetime
    effects: list[EffectRow] = field(default_factory=list)
    weekly: list[WeeklyPoint] = field(default_factory=list)
    usage_counts: dict[str, int] = field(default_factory=dict)
    gaps: list[GapRow] = field(default_factory=list)
    planted_effect: float | None = None
    arm_rows: list[ArmRow] = field(default_factory=list)
    feedback_counts: dict[str, int] = field(default_factory=dict)
    retrieval_section: str = ""  # assistant/effect/retrieval_quality.py renders it


def _png(figure: plt.Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _plot_weekly(points: list[WeeklyPoint]) -> str:
    figure, axis = plt.subplots(figsize=(8, 3.2))
    for arm in ("pre_rollout", "treatment", "holdout"):
        series = sorted((p.week, p.median_frt_bm) for p in points if p.arm == arm)
        if series:
            axis.plot(*zip(*series, strict=True), marker="o", label=ARM_LABELS[arm])
    axis.set_ylabel("медиана FRT, раб. мин")
    axis.legend()
    axis.grid(alpha=0.3)
    figure.autofmt_xdate()
    return _png(figure)


def _plot_by_category(rows: list[EffectRow]) -> str:
    rows = [r for r in rows if r.rel_change is not None and r.ci95_low is not None]
    figure, axis = plt.subplots(figsize=(8, 0.35 * max(len(rows), 3) + 1))
    labels = [r.segment for r in rows]
    centers = [100 * (r.rel_change or 0) for r in rows]
    errors = [
        [100 * ((r.rel_change or 0) - (r.ci95_low or 0)) for r in rows],
        [100 * ((r.ci95_high or 0) - (r.rel_change or 0)) for r in rows],
    ]
    axis.errorbar(centers, range(len(rows)), xerr=errors, fmt="o", capsize=3)
    axis.set_yticks(range(len(rows)), labels)
    axis.axvline(0, color="grey", linewidth=1)
    axis.set_xlabel("изменение медианы FRT, % (95% ДИ)")
    axis.grid(alpha=0.3, axis="x")
    return _png(figure)


def _plot_usage(counts: dict[str, int]) -> str:
    figure, axis = plt.subplots(figsize=(6, 2.8))
    keys = [k for k in USAGE_LABELS if k in counts]
    axis.barh([USAGE_LABELS[k] for k in keys], [counts[k] for k in keys])
    axis.set_xlabel("черновиков")
    return _png(figure)


def _plot_gaps(gaps: list[GapRow]) -> str:
    totals: dict[str, int] = {}
    for row in gaps:
        totals[row.category] = totals.get(row.category, 0) + row.tickets_without_good_match
    ordered = sorted(totals.items(), key=lambda item: item[1])
    figure, axis = plt.subplots(figsize=(6, 0.3 * max(len(ordered), 3) + 1))
    axis.barh([k for k, _ in ordered], [v for _, v in ordered], color="#c0504d")
    axis.set_xlabel("обращений без подходящей статьи")
    return _png(figure)


def _fmt_pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.1f}%"


def _fmt_num(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def _effect_table(rows: list[EffectRow]) -> str:
    head = (
        "<tr><th>метрика</th><th>срез</th><th>сравнение</th><th>n контроль</th>"
        "<th>n лечение</th><th>контроль</th><th>лечение</th><th>эффект</th>"
        "<th>95% ДИ</th><th>MDE (80%)</th></tr>"
    )
    body = "".join(
        "<tr>"
        f"<td>{html.escape(r.metric)}</td><td>{html.escape(r.segment)}</td>"
        f"<td>{html.escape(r.comparison)}</td><td>{r.n_control}</td><td>{r.n_treated}</td>"
        f"<td>{_fmt_num(r.control_value)}</td><td>{_fmt_num(r.treated_value)}</td>"
        f"<td class='effect'>{_fmt_pct(r.rel_change)}</td>"
        f"<td>[{_fmt_pct(r.ci95_low)}; {_fmt_pct(r.ci95_high)}]</td>"
        f"<td>{_fmt_pct(r.mde_80)}</td>"
        "</tr>"
        for r in rows
    )
    return f"<table>{head}{body}</table>"


METRIC_LABELS = {
    "frt_bm": "первый ответ, раб. мин (медиана)",
    "frt_cal_min": "первый ответ, календ. мин (медиана)",
    "full_resolution_bm": "решение, раб. мин (медиана, 14+ дней)",
    "frt_sla_attainment": "SLA первого ответа соблюдён",
    "reopen_rate_7d": "переоткрыто за 7 дней",
}
COMPARISON_LABELS = {
    "treatment_vs_holdout": "ассистент vs контроль",
    "post_vs_pre": "ассистент vs до запуска",
}


def _fmt_value(value: float | None, statistic: str) -> str:
    if value is None:
        return "—"
    return f"{100 * value:.1f}%" if statistic == "rate" else f"{value:.0f}"


def _arm_table(rows: list[ArmRow]) -> str:
    head = (
        "<tr><th>метрика</th><th>сравнение</th><th>n контроль</th><th>n лечение</th>"
        "<th>контроль</th><th>лечение</th></tr>"
    )
    body = "".join(
        "<tr>"
        f"<td>{html.escape(METRIC_LABELS.get(r.metric, r.metric))}</td>"
        f"<td>{html.escape(COMPARISON_LABELS.get(r.comparison, r.comparison))}</td>"
        f"<td>{r.n_control}</td><td>{r.n_treated}</td>"
        f"<td>{_fmt_value(r.control_value, r.statistic)}</td>"
        f"<td>{_fmt_value(r.treated_value, r.statistic)}</td>"
        "</tr>"
        for r in rows
    )
    return f"<table class='arms'>{head}{body}</table>"


def _counts_table(counts: dict[str, int]) -> str:
    body = "".join(
        f"<tr><td>{html.escape(key)}</td><td>{value}</td></tr>"
        for key, value in sorted(counts.items(), key=lambda item: -item[1])
    )
    return f"<table class='feedback'><tr><th>ответ</th><th>обращений</th></tr>{body}</table>"


def render_report(data: ReportData) -> str:
    """The whole page as one HTML string."""
    overall = [r for r in data.effects if r.segment == "ALL"]
    by_category = [
        r
        for r in data.effects
        if r.segment != "ALL" and r.comparison == "treatment_vs_holdout" and r.metric == "frt_bm"
    ]
    sections = [
        "<h2>Главное</h2>",
        _effect_table(overall) if overall else "<p>Недостаточно данных для оценки эффекта.</p>",
    ]
    if data.planted_effect is not None:
        sections.append(
            f"<p class='note'>Заложенный в демо-данные эффект: {_fmt_pct(data.planted_effect)}.</p>"
        )
    if data.weekly:
        sections += [
            "<h2>Медиана времени первого ответа по неделям</h2>",
            f"<img alt='weekly median FRT by arm' src='{_plot_weekly(data.weekly)}'>",
        ]
    if by_category:
        sections += [
            "<h2>Эффект по категориям (описательно)</h2>",
            f"<img alt='effect by category' src='{_plot_by_category(by_category)}'>",
            _effect_table(by_category),
        ]
    if data.arm_rows:
        sections += [
            "<h2>Все метрики: сырые медианы и доли (без взвешивания)</h2>",
            _arm_table(data.arm_rows),
        ]
    if data.usage_counts:
        sections += [
            "<h2>Использование черновиков</h2>",
            f"<img alt='draft usage' src='{_plot_usage(data.usage_counts)}'>",
        ]
    if data.feedback_counts:
        sections += [
            "<h2>Отзывы сотрудников («Помог ли ИИ-помощник»)</h2>",
            _counts_table(data.feedback_counts),
        ]
    if data.gaps:
        sections += [
            "<h2>Пробелы в базе знаний</h2>",
            f"<img alt='kb gaps' src='{_plot_gaps(data.gaps)}'>",
        ]
    if data.retrieval_section:
        sections.append(data.retrieval_section)
    style = (
        "body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
        "font-size:13px}th{background:#f3f3f3}.note{color:#555}img{max-width:100%}"
    )
    return (
        "<!DOCTYPE html><html lang='ru'><head><meta charset='utf-8'>"
        f"<title>kb: эффект ИИ-помощника</title><style>{style}</style></head><body>"
        "<h1>Эффект ИИ-помощника поддержки</h1>"
        f"<p class='note'>Отчёт построен {data.generated_at:%Y-%m-%d %H:%M} UTC. Метод: "
        "intent-to-treat, медианы взвешены на структуру категорий до запуска, "
        "бутстреп 95% ДИ.</p>" + "".join(sections) + "</body></html>"
    )
