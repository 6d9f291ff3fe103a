"""The effect report's plots: matplotlib (Agg) PNGs as data URIs (offline, mailable)."""

from __future__ import annotations

import base64
import io
from datetime import date

import matplotlib

from assistant.effect.labels import Labels
from assistant.effect.report_types import (
    ARM_COLORS,
    ARMS,
    MIN_WEEKLY_TICKETS,
    EffectRow,
    WeeklyPoint,
)
from assistant.effect.verdict import is_shown

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def png(figure: plt.Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def plot_weekly(points: list[WeeklyPoint], labels: Labels) -> str:
    """One line per arm; a point pooled from several thin weeks is hollow, at their middle."""
    figure, axis = plt.subplots(figsize=(8.5, 3.4))
    for arm in ARMS:
        series = sorted((p for p in points if p.arm == arm), key=lambda p: p.week)
        if not series:
            continue
        color, name = ARM_COLORS[arm], labels.name("arm", arm)
        axis.plot(
            [p.middle for p in series], [p.median_frt_bm for p in series], marker="o",
            color=color, label=name,
        )  # fmt: skip
        pooled = [p for p in series if p.pooled]
        if pooled:
            axis.plot(
                [p.middle for p in pooled], [p.median_frt_bm for p in pooled], linestyle="none",
                marker="o", markerfacecolor="white", color=color,
                label=f"{name}: несколько недель вместе",
            )  # fmt: skip
    unit = labels.metric("frt_bm").unit
    axis.set_ylabel(f"медиана, {unit}")
    axis.grid(alpha=0.3)
    figure.autofmt_xdate()
    axis.legend(  # below the axes: the lines fill the plot
        fontsize=8, ncol=3, title=f"каждая точка — не меньше {MIN_WEEKLY_TICKETS} обращений",
        title_fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.3),
    )  # fmt: skip
    return png(figure)


def plot_by_category(rows: list[EffectRow], labels: Labels) -> str:
    rows = sorted(
        (r for r in rows if r.rel_change is not None and r.ci95_low is not None),
        key=lambda r: r.rel_change or 0,
    )
    figure, axis = plt.subplots(figsize=(8.5, 0.38 * max(len(rows), 3) + 1))
    centers = [100 * (r.rel_change or 0) for r in rows]
    errors = [
        [100 * ((r.rel_change or 0) - (r.ci95_low or 0)) for r in rows],
        [100 * ((r.ci95_high or 0) - (r.rel_change or 0)) for r in rows],
    ]
    colors = ["#2e75b6" if is_shown(r) else "#9e9e9e" for r in rows]
    for index, (center, color) in enumerate(zip(centers, colors, strict=True)):
        axis.errorbar(
            [center], [index], xerr=[[errors[0][index]], [errors[1][index]]], fmt="o",
            capsize=3, color=color,
        )  # fmt: skip
    axis.set_yticks(range(len(rows)), [labels.segment(r.segment) for r in rows])
    axis.axvline(0, color="black", linewidth=1)
    axis.set_xlabel("изменение медианы времени первого ответа, % (95 % ДИ); синим — ДИ без нуля")
    axis.grid(alpha=0.3, axis="x")
    return png(figure)


def plot_adoption(pools: list[tuple[date, date, float]], min_drafts: int) -> str:
    """The share of drafts used per pool of weeks (each pool ≥ `min_drafts` judged drafts)."""
    figure, axis = plt.subplots(figsize=(8.5, 2.8))
    middles = [first + (last - first) / 2 for first, last, _ in pools]
    axis.plot(middles, [share for _, _, share in pools], marker="o", color=ARM_COLORS["treatment"])
    axis.set_ylim(0, 105)  # a share of 100 % stays inside the axes
    axis.set_ylabel("черновик пригодился, %")
    axis.set_title(f"каждая точка — не меньше {min_drafts} черновиков с ответом", fontsize=9)
    axis.grid(alpha=0.3)
    figure.autofmt_xdate()
    return png(figure)
