"""The effect report's retrieval-quality section: did the bot point at what staff used?

Reads marts.fct_retrieval_quality_daily (answer labels vs the bot's retrieval snapshot)
and plots the daily MRR and recall@5 per arm, pooled over categories (weighted by the
labelled tickets of each cell), with a 7-day rolling mean so single days with few
labels do not dominate. Kept apart from report.py so the page gains a section, not a
rewrite; `section_html` returns "" when there are no labels yet.
"""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import psycopg

from assistant.effect.labels import load_labels
from assistant.effect.report_plots import plt, png

ROLLING_DAYS = 7


@dataclass(frozen=True)
class QualityPoint:
    day: date
    arm: str
    labelled_tickets: int
    recall_at_5: float
    mrr: float


def load_quality_series(conn: psycopg.Connection) -> list[QualityPoint]:
    """Daily points per arm, pooled over categories; [] when the mart does not exist yet."""
    row = conn.execute("select to_regclass('marts.fct_retrieval_quality_daily')").fetchone()
    if row is None or row[0] is None:
        return []
    rows = conn.execute(
        "select decided_date_msk, arm, sum(labelled_tickets),"
        " sum(recall_at_5 * labelled_tickets) / sum(labelled_tickets),"
        " sum(mrr * labelled_tickets) / sum(labelled_tickets)"
        " from marts.fct_retrieval_quality_daily group by 1, 2 order by 1, 2"
    ).fetchall()
    return [QualityPoint(d, arm, int(n), float(r5), float(mrr)) for d, arm, n, r5, mrr in rows]


def _rolling(points: list[QualityPoint], attr: str) -> list[float]:
    """Ticket-weighted mean over the last ROLLING_DAYS calendar days (points sorted by day)."""
    out = []
    for i, current in enumerate(points):
        window = [p for p in points[: i + 1] if (current.day - p.day).days < ROLLING_DAYS]
        weight = sum(p.labelled_tickets for p in window)
        out.append(sum(getattr(p, attr) * p.labelled_tickets for p in window) / weight)
    return out


def plot_quality(points: list[QualityPoint]) -> str:
    by_arm: dict[str, list[QualityPoint]] = defaultdict(list)
    for point in points:
        by_arm[point.arm].append(point)
    arm_names = load_labels()
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for arm, series in sorted(by_arm.items()):
        days = [p.day for p in series]
        label = arm_names.name("arm", arm)
        axes[0].plot(days, _rolling(series, "mrr"), label=label)
        axes[1].plot(days, _rolling(series, "recall_at_5"), label=label)
    titles = ("Средняя обратная позиция (1 — всегда первая)", "Нужная статья в первых пяти")
    for axis, title in zip(axes, titles, strict=True):
        axis.set_title(f"{title},\nскользящее среднее за {ROLLING_DAYS} дн.", fontsize=10)
        axis.set_ylim(0, 1.05)  # a line at 1.0 stays inside the axes
        axis.grid(alpha=0.3)
        axis.tick_params(axis="x", labelrotation=30)
    axes[0].legend()
    return png(figure)


def in_words(share: float) -> str:
    """`0.7` → «в 7 из 10 заявок»; out of 100 where tenths would round to all or none."""
    tenths = round(10 * share)
    if (tenths == 10 and share < 1) or (tenths == 0 and share > 0):
        return f"в {round(100 * share)} из 100 заявок"
    return f"в {tenths} из 10 заявок"


def section_html(points: list[QualityPoint]) -> str:
    """The report section, or "" when nothing is labelled yet.

    Leads read shares as "n out of 10 tickets"; the charts keep the technical measures
    (recall@5, MRR) with their meaning in the titles.
    """
    if not points:
        return ""
    total = sum(p.labelled_tickets for p in points)
    recall_5 = sum(p.recall_at_5 * p.labelled_tickets for p in points) / total
    mrr = sum(p.mrr * p.labelled_tickets for p in points) / total
    position = f"{1 / mrr:.1f}".replace(".", ",") if mrr > 0 else "—"
    mrr_text = f"{mrr:.2f}".replace(".", ",")
    return (
        "<h2>Качество поиска: нашёл ли бот то, чем воспользовались инженеры</h2>"
        f"<p><b>{in_words(recall_5).capitalize()} нужная статья была среди первых пяти</b>, "
        f"которые предложил бот. В среднем по всем заявкам нужная статья стояла на месте "
        f"около {position} (оценка по средней обратной позиции, MRR = {mrr_text}; "
        "1 — всегда первая).</p>"
        f"<p class='note'>{html.escape(str(total))} обращений с метками ответа (ссылки на "
        "статьи и заявки в ответах сотрудников, близость ответа к разделу базы знаний). "
        "Для контрольной группы — что бот предложил бы.</p>"
        f"<img alt='retrieval quality by day' src='{plot_quality(points)}'>"
    )
