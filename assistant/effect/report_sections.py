"""The report's answers to a support lead's next questions, as HTML fragments.

The verdict (assistant/effect/verdict.py) says whether the effect is shown; a lead then
asks: over which period, since when is the assistant on, when will we know, are the
drafts used, and what should we write for the knowledge base. Each function here
answers one of those from the rows in `ReportData` and returns a fragment that
`report.render_report` places; all dates are Moscow dates (the marts' `_msk` columns).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import date, timedelta

from assistant.effect.labels import Labels
from assistant.effect.report_plots import plot_adoption
from assistant.effect.report_types import (
    MIN_WEEKLY_TICKETS,
    USAGE_LABELS,
    AdoptionWeek,
    GapDocument,
    Period,
    WeekCount,
)
from assistant.effect.stats import Estimate
from assistant.effect.verdict import (
    NO_ESTIMATE,
    NOT_SHOWN,
    NOT_SHOWN_UNDERPOWERED,
    PRIMARY_COMPARISON,
    PRIMARY_METRIC,
    Verdict,
)
from assistant.effect.weekly import pool_weeks

# "Today's volume" is the mean of the last complete weeks: one week swings with holidays.
VOLUME_WEEKS = 4
# A change of the draft-use share smaller than this (percentage points) is "steady".
TREND_POINTS = 5.0
GAP_ROWS = 15


def _esc(text: object) -> str:
    return html.escape(str(text))


def _day(day: date) -> str:
    return f"{day:%d.%m.%Y}"


def _weeks_word(n: int) -> str:
    """`n недель` with the Russian plural form."""
    if n % 10 == 1 and n % 100 != 11:
        return f"{n} неделя"
    if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        return f"{n} недели"
    return f"{n} недель"


def share_text(part: int, whole: int) -> str:
    """`38 %` (a whole percent, a no-break space: the sign never wraps alone), or `—`."""
    return "—" if whole <= 0 else f"{round(100 * part / whole)}\u00a0%"


def period_html(period: Period | None) -> str:
    """The data period and the rollout date, for the top of the page."""
    if period is None:
        return ""
    before = max((period.rollout_day - period.first_day).days, 0) // 7
    after = max((period.last_day - period.rollout_day).days + 1, 0) // 7
    return (
        f"<p class='period'><b>Данные:</b> обращения с {_day(period.first_day)} по "
        f"{_day(period.last_day)}. <b>Ассистент включён</b> {_day(period.rollout_day)}: "
        f"до запуска — {_weeks_word(before)} данных, после — {_weeks_word(after)}.</p>"
    )


def weekly_volume(weeks: Sequence[WeekCount], n: int = VOLUME_WEEKS) -> float | None:
    """Mean answered tickets per week over the last `n` complete weeks (None: no data)."""
    recent = sorted(weeks, key=lambda w: w.week)[-n:]
    if not recent:
        return None
    return sum(w.tickets for w in recent) / len(recent)


def _primary(estimates: Sequence[Estimate]) -> Estimate | None:
    return next(
        (
            e
            for e in estimates
            if e.metric == PRIMARY_METRIC
            and e.segment == "ALL"
            and e.comparison == PRIMARY_COMPARISON
        ),
        None,
    )


def weeks_to_answer_html(
    judged: Verdict, estimates: Sequence[Estimate], weeks: Sequence[WeekCount], today: date
) -> str:
    """«At today's volume, about N weeks until the answer is known» (or why not)."""
    volume = weekly_volume(weeks)
    primary = _primary(estimates)
    flow = (
        f"сейчас приходит около {volume:.0f} обращений с ответом в неделю в обеих группах "
        f"(среднее за последние {len(weeks[-VOLUME_WEEKS:])} полные недели)"
        if volume
        else ""
    )
    if judged.status == NOT_SHOWN_UNDERPOWERED and judged.tickets_needed and primary:
        more = max(judged.tickets_needed - primary.n_treated - primary.n_control, 0)
        if not volume:
            return f"<p class='eta'>Нужно ещё примерно {more} обращений с ответом.</p>"
        n_weeks = max(math.ceil(more / volume), 1)
        when = today + timedelta(weeks=n_weeks)
        return (
            f"<p class='eta'><b>Когда будет ответ:</b> при нынешнем потоке — примерно "
            f"через {_weeks_word(n_weeks)} (около {_day(when)}): нужно ещё около {more} "
            f"обращений с ответом, а {flow}.</p>"
        )
    if judged.status == NO_ESTIMATE:
        return (
            "<p class='eta'><b>Когда будет ответ:</b> оценка появится, когда в каждой "
            f"группе будет хотя бы 5 обращений с ответом{'; ' + flow if flow else ''}.</p>"
        )
    if judged.status == NOT_SHOWN:
        return (
            "<p class='eta'><b>Когда будет ответ:</b> данных уже достаточно, чтобы "
            "заметить заметный эффект; его нет.</p>"
        )
    return "<p class='eta'><b>Когда будет ответ:</b> ответ уже есть (см. вывод).</p>"


def _trend(weeks: Sequence[AdoptionWeek]) -> tuple[list[tuple[date, date, float]], str]:
    """Pools of weeks with ≥ MIN_WEEKLY_TICKETS judged drafts, their shares, and a sentence."""
    flags = [(w.week, [1.0] * w.used + [0.0] * w.ignored) for w in weeks if w.judged]
    pools = [
        (first, last, 100 * sum(values) / len(values))
        for first, last, values in pool_weeks(flags, MIN_WEEKLY_TICKETS)
    ]
    if len(pools) < 2:
        return pools, ""
    # the first and the last few points, so one noisy week does not make a trend
    k = min(VOLUME_WEEKS, len(pools) // 2)
    start = sum(share for _, _, share in pools[:k]) / k
    end = sum(share for _, _, share in pools[-k:]) / k
    if end - start >= TREND_POINTS:
        word = "растёт"
    elif start - end >= TREND_POINTS:
        word = "падает"
    else:
        word = "держится на одном уровне"
    return pools, (
        f" Доля {word}: в первые недели после запуска — {start:.0f}\u00a0%, "
        f"в последние — {end:.0f}\u00a0%."
    )


def adoption_html(weeks: Sequence[AdoptionWeek]) -> str:
    """Draft adoption as a share with its trend, then the counts behind it."""
    accepted = sum(w.accepted for w in weeks)
    edited = sum(w.edited for w in weeks)
    ignored = sum(w.ignored for w in weeks)
    judged = accepted + edited + ignored
    if not judged:
        return ""
    pools, trend = _trend(weeks)
    lead = (
        f"<p><b>Черновик пригодился в {share_text(accepted + edited, judged)} обращений</b> "
        f"с ответом сотрудника: принят как есть — {share_text(accepted, judged)}, "
        f"отредактирован — {share_text(edited, judged)}; не использован — "
        f"{share_text(ignored, judged)} ({ignored} из {judged}).{trend}</p>"
    )
    rows = "".join(
        f"<tr><td>{USAGE_LABELS[key]}</td><td class='n'>{count}</td>"
        f"<td class='n'>{share_text(count, judged)}</td></tr>"
        for key, count in (("accepted", accepted), ("edited", edited), ("ignored", ignored))
    )
    table = f"<table><tr><th>черновик</th><th>обращений</th><th>доля</th></tr>{rows}</table>"
    chart = (
        f"<img alt='draft adoption by week' src='{plot_adoption(pools, MIN_WEEKLY_TICKETS)}'>"
        if len(pools) >= 2
        else ""
    )
    return "<h2>Использование черновиков</h2>" + lead + chart + table


def gaps_html(documents: Sequence[GapDocument], no_match_tickets: int, labels: Labels) -> str:
    """The ranked documents staff used that the bot missed, or «пробелов не найдено»."""
    head = "<h2>Пробелы в базе знаний</h2>"
    no_match = (
        f"<p>Бот не нашёл ни одной подходящей статьи в {no_match_tickets} обращениях.</p>"
        if no_match_tickets
        else ""
    )
    if not documents:
        return (
            head + "<p>Пробелов не найдено: во всех обращениях, где сотрудники сослались на "
            "статью или прошлую заявку, бот предлагал её среди первых пяти.</p>" + no_match
        )
    rows = []
    for rank, doc in enumerate(documents[:GAP_ROWS], start=1):
        title = _esc(doc.title or "без названия")
        link = f"<a href='{_esc(doc.url)}'>{title}</a>" if doc.url else title
        categories = ", ".join(labels.segment(code) for code in doc.categories)
        rows.append(
            f"<tr><td class='n'>{rank}</td><td>{link}</td>"
            f"<td class='n'>{doc.tickets_missed}</td><td>{_esc(categories)}</td></tr>"
        )
    more = (
        f"<p class='note'>Показаны первые {GAP_ROWS} из {len(documents)}; весь список — "
        "в витрине marts.kb_gap_documents.</p>"
        if len(documents) > GAP_ROWS
        else ""
    )
    return (
        head + "<p>Статьи и прошлые заявки, которыми сотрудники ответили клиенту, а бот "
        "не предложил среди первых пяти: с них стоит начать правку базы знаний (улучшить "
        "заголовок и первые абзацы, написать статью по заявке).</p>"
        "<table class='gaps'><tr><th>№</th><th>документ</th><th>сколько раз бот его "
        "не предложил</th><th>категории</th></tr>" + "".join(rows) + "</table>" + more + no_match
    )
