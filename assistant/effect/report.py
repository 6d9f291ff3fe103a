"""The effect report: one self-contained HTML page for a Russian-speaking support lead.

It opens with a verdict in words (assistant/effect/verdict.py), then the numbers with
Russian names and units (assistant/effect/labels.py — the same seed the marts join).
A week with fewer than `MIN_WEEKLY_TICKETS` answered tickets in an arm is pooled with
its neighbours (assistant/effect/weekly.py), so every weekly point rests on at least that
many; categories without enough data are listed, not dropped. Plots are
matplotlib (Agg) PNGs embedded as data URIs, so the page opens offline, can be mailed,
and is published as a Prefect artifact unchanged.
"""

from __future__ import annotations

import html
from zoneinfo import ZoneInfo

from assistant.effect.labels import Labels, load_labels
from assistant.effect.report_plots import plot_by_category, plot_weekly
from assistant.effect.report_sections import (
    adoption_html,
    gaps_html,
    period_html,
    weeks_to_answer_html,
)
from assistant.effect.report_types import (
    MIN_WEEKLY_TICKETS,
    ArmRow,
    EffectRow,
    GapRow,
    ReportData,
    WeeklyPoint,
)
from assistant.effect.stats import INSUFFICIENT_METHOD
from assistant.effect.verdict import (
    NO_ESTIMATE,
    NOT_SHOWN,
    NOT_SHOWN_UNDERPOWERED,
    SHOWN_BETTER,
    SHOWN_WORSE,
    better_when,
    is_improvement,
    is_shown,
    pct,
    verdict,
    wrong_way_sentences,
)

MOSCOW = ZoneInfo("Europe/Moscow")

VERDICT_STYLE = {
    SHOWN_BETTER: ("verdict good", "эффект показан"),
    SHOWN_WORSE: ("verdict bad", "показано ухудшение"),
    NOT_SHOWN_UNDERPOWERED: ("verdict wait", "эффект пока не показан — мало данных"),
    NOT_SHOWN: ("verdict none", "эффект не обнаружен"),
    NO_ESTIMATE: ("verdict wait", "оценки пока нет"),
}

__all__ = ["ArmRow", "EffectRow", "GapRow", "ReportData", "WeeklyPoint", "render_report"]


def _esc(text: object) -> str:
    return html.escape(str(text))


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "%":
        return f"{100 * value:.1f} %".replace(".", ",")
    return f"{value:.0f} {unit}".strip()


def _conclusion(row: EffectRow) -> str:
    if row.method == INSUFFICIENT_METHOD or row.rel_change is None:
        return "недостаточно данных"
    if is_shown(row):
        return "показан" if is_improvement(row) else "ухудшение"
    if row.mde_80 is not None and row.mde_80 > abs(row.rel_change):
        return "не показан, мало данных"
    return "не показан"


def _effect_table(rows: list[EffectRow], labels: Labels, *, first: str) -> str:
    head = (
        f"<tr><th>{first}</th><th>метод</th><th>обращений: с ассистентом / контроль</th>"
        "<th>контроль</th><th>с ассистентом</th><th>изменение</th><th>лучше</th>"
        "<th>95 % ДИ</th><th>MDE (80 %)</th><th>вывод</th></tr>"
    )
    cells = []
    for r in rows:
        metric = labels.metric(r.metric)
        what = f"{metric.name}, {metric.unit}" if first == "метрика" else labels.segment(r.segment)
        method = labels.name("method", r.method)
        # each bound kept whole («+12,1 %» never wraps); the line may break at «…»
        low, high = (pct(v).replace(" ", "\u00a0") for v in (r.ci95_low, r.ci95_high))
        ci = "—" if r.ci95_low is None else f"{low} … {high}"
        cells.append(
            f"<tr class='{'thin' if r.method == INSUFFICIENT_METHOD else ''}'>"
            f"<td>{_esc(what)}</td><td>{_esc(method)}</td>"
            f"<td class='n'>{r.n_treated} / {r.n_control}</td>"
            f"<td class='n'>{_esc(_value(r.control_value, metric.unit))}</td>"
            f"<td class='n'>{_esc(_value(r.treated_value, metric.unit))}</td>"
            f"<td class='n effect'>{pct(r.rel_change)}</td>"
            f"<td>{'↓ ' if better_when(r.metric) == 'меньше' else '↑ '}{better_when(r.metric)}</td>"
            f"<td class='ci'>{ci}</td>"
            f"<td class='n'>{pct(r.mde_80, signed=False)}</td><td>{_conclusion(r)}</td></tr>"
        )
    return f"<table>{head}{''.join(cells)}</table>"


def _arm_table(rows: list[ArmRow], labels: Labels) -> str:
    head = (
        "<tr><th>метрика</th><th>сравнение</th><th>обращений: с ассистентом / сравнение</th>"
        "<th>группа сравнения</th><th>с ассистентом</th></tr>"
    )
    body = "".join(
        "<tr>"
        f"<td>{_esc(labels.metric(r.metric).name)}, {_esc(labels.metric(r.metric).unit)}</td>"
        f"<td>{_esc(labels.name('comparison', r.comparison))}</td>"
        f"<td class='n'>{r.n_treated} / {r.n_control}</td>"
        f"<td class='n'>{_esc(_value(r.control_value, labels.metric(r.metric).unit))}</td>"
        f"<td class='n'>{_esc(_value(r.treated_value, labels.metric(r.metric).unit))}</td>"
        "</tr>"
        for r in rows
    )
    return f"<table class='arms'>{head}{body}</table>"


def _counts_table(counts: dict[str, int]) -> str:
    body = "".join(
        f"<tr><td>{_esc(key)}</td><td>{value}</td></tr>"
        for key, value in sorted(counts.items(), key=lambda item: -item[1])
    )
    return f"<table class='feedback'><tr><th>ответ</th><th>обращений</th></tr>{body}</table>"


def _methods_note(labels: Labels) -> str:
    items = "".join(
        f"<li><b>{_esc(label.name)}</b>: {_esc(label.description)}</li>"
        for label in labels.by_kind.get("method", {}).values()
    )
    arms = "".join(
        f"<li><b>{_esc(label.name)}</b>: {_esc(label.description)}</li>"
        for label in labels.by_kind.get("arm", {}).values()
    )
    return f"<h2>Как читать</h2><ul class='note'>{arms}{items}</ul>"


STYLE = (
    "body{font-family:'DejaVu Sans',Arial,sans-serif;max-width:1080px;margin:2em auto;"
    "color:#222;line-height:1.45}h1{margin-bottom:.2em}h2{margin-top:1.6em}"
    "table{border-collapse:collapse;margin:.8em 0}td,th{border:1px solid #ccc;"
    "padding:4px 8px;font-size:13px;vertical-align:top}th{background:#f3f3f3;text-align:left}"
    "td.n{text-align:right;white-space:nowrap}td.ci{text-align:right}"
    "td:first-child{min-width:9em}"
    "tr.thin td{color:#888}.note{color:#555}"
    "img{max-width:100%}.verdict{border-left:6px solid;padding:.6em 1em;margin:1em 0;"
    "background:#f7f7f7}.verdict h2{margin:.1em 0 .4em}.good{border-color:#2e7d32}"
    ".bad{border-color:#c62828}.wait{border-color:#f9a825}.none{border-color:#9e9e9e}"
    ".period{font-size:15px;background:#eef4fb;padding:.5em 1em}"
    "table.gaps td:first-child{min-width:0}table.gaps td:nth-child(2){min-width:24em}"
)


def render_report(data: ReportData) -> str:
    """The whole page as one HTML string.

    Order: the period, the verdict and when the answer will be known, the metrics (each
    with the way that is better, a sentence for each that moved the wrong way), then draft
    use, knowledge gaps, retrieval quality, `data.extra_sections`, and how to read it.
    """
    labels = data.labels or load_labels()
    metric_order = list(labels.by_kind.get("metric", {}))
    overall = sorted(
        (r for r in data.effects if r.segment == "ALL"),
        key=lambda r: (
            metric_order.index(r.metric) if r.metric in metric_order else len(metric_order),
            r.comparison != "treatment_vs_holdout",  # the randomised comparison first
        ),
    )
    by_category = [
        r
        for r in data.effects
        if r.segment != "ALL" and r.comparison == "treatment_vs_holdout" and r.metric == "frt_bm"
    ]
    generated = data.generated_at.astimezone(MOSCOW)
    judged = verdict(data.effects, labels)
    css_class, title = VERDICT_STYLE[judged.status]
    paragraphs = "".join(f"<p>{_esc(text)}</p>" for text in judged.paragraphs)
    sections = [
        period_html(data.period),
        f"<div class='{css_class}'><h2>Вывод: {title}</h2>{paragraphs}"
        f"{weeks_to_answer_html(judged, data.effects, data.weekly_volume, generated.date())}"
        "</div>",
    ]
    if overall:
        wrong = "".join(f"<li>{_esc(s)}</li>" for s in wrong_way_sentences(data.effects, labels))
        sections += ["<h2>Главное</h2>", _effect_table(overall, labels, first="метрика")]
        if wrong:
            sections.append(f"<p><b>Что изменилось в худшую сторону:</b></p><ul>{wrong}</ul>")
    else:
        sections.append("<p>Недостаточно данных для оценки эффекта.</p>")
    if data.planted_effect is not None:
        sections.append(
            f"<p class='note'>Заложенный в демо-данные эффект: {pct(data.planted_effect)}.</p>"
        )
    sections.append(adoption_html(data.adoption))
    if data.feedback_counts:
        sections += [
            "<h3>Отзывы сотрудников («Помог ли ИИ-помощник»)</h3>",
            _counts_table(data.feedback_counts),
        ]
    no_match = sum(row.tickets_without_good_match for row in data.gaps)
    sections.append(gaps_html(data.gap_documents, no_match, labels))
    if data.retrieval_section:
        sections.append(data.retrieval_section)
    if data.weekly:
        sections += [
            "<h2>Медиана времени первого ответа по неделям</h2>",
            f"<img alt='weekly median first response by arm' "
            f"src='{plot_weekly(data.weekly, labels)}'>",
            f"<p class='note'>Каждая точка — медиана не меньше чем {MIN_WEEKLY_TICKETS} "
            "обращений с ответом. Неделя, где в группе их меньше (медиана по ним ненадёжна), "
            "объединена со следующей, а в конце ряда — с предыдущей; такие точки — пустые "
            "кружки посередине объединённых недель. Группа, где за весь период меньше "
            f"{MIN_WEEKLY_TICKETS} обращений, на графике не показана.</p>",
        ]
    if by_category:
        estimated = [r for r in by_category if r.method != INSUFFICIENT_METHOD]
        sections.append("<h2>По категориям: время первого ответа (описательно)</h2>")
        if estimated:
            sections.append(
                f"<img alt='effect by category' src='{plot_by_category(estimated, labels)}'>"
            )
        ordered = sorted(by_category, key=lambda r: (r.method == INSUFFICIENT_METHOD, r.segment))
        sections.append(_effect_table(ordered, labels, first="категория"))
    if data.arm_rows:
        sections += [
            "<h2>Все метрики: медианы и доли без взвешивания</h2>",
            _arm_table(data.arm_rows, labels),
        ]
    sections += data.extra_sections
    sections.append(_methods_note(labels))
    return (
        "<!DOCTYPE html><html lang='ru'><head><meta charset='utf-8'>"
        f"<title>Эффект ИИ-помощника поддержки</title><style>{STYLE}</style></head><body>"
        "<h1>Эффект ИИ-помощника поддержки</h1>"
        f"<p class='note'>Отчёт построен {generated:%d.%m.%Y %H:%M} по московскому времени. "
        "Все обращения учитываются в той группе, куда их распределили (intent-to-treat); "
        "медианы взвешены на структуру категорий до запуска; 95 % ДИ — бутстреп.</p>"
        + "".join(sections)
        + "</body></html>"
    )
