"""The effect report a support lead reads: Russian names, units, a verdict in words.

Estimates come from the real estimators (`stats.estimate_all`) on seeded lognormal
first-response times, so the verdict is tested on what the stage would store.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from assistant.effect.labels import load_labels
from assistant.effect.report import (
    MIN_WEEKLY_TICKETS,
    ArmRow,
    GapRow,
    ReportData,
    WeeklyPoint,
    render_report,
)
from assistant.effect.report_summary import summary_markdown
from assistant.effect.report_types import AdoptionWeek, GapDocument, Period, WeekCount
from assistant.effect.stats import INSUFFICIENT_METHOD, Estimate, TicketOutcome, estimate_all
from assistant.effect.verdict import (
    NO_ESTIMATE,
    NOT_SHOWN,
    NOT_SHOWN_UNDERPOWERED,
    SHOWN_BETTER,
    pct,
    tickets_needed,
    verdict,
)

LABELS = load_labels()
CATEGORIES = ("forms_fields", "catalogs", "sso_ldap")


def outcomes(
    n_treated: int, n_holdout: int, effect: float, *, seed: int, thin: str | None = None
) -> list[TicketOutcome]:
    """Lognormal FRT around 95 business minutes; `effect` multiplies the treatment median.

    Tickets spread over CATEGORIES; the `thin` category gets 2 holdout tickets only.
    """
    rng = np.random.default_rng(seed)
    rows: list[TicketOutcome] = []
    for arm, n, factor in (
        ("pre_rollout", n_treated + n_holdout, 1.0),
        ("treatment", n_treated, 1.0 + effect),
        ("holdout", n_holdout, 1.0),
    ):
        for i in range(n):
            category = CATEGORIES[i % len(CATEGORIES)]
            if arm == "holdout" and category == thin and i > 6:
                continue
            would_be = None
            if arm == "pre_rollout":
                would_be = "holdout" if i % 5 == 0 else "treatment"
            value = float(95 * factor * rng.lognormal(0.0, 0.9))
            rows.append(TicketOutcome(arm, category, value, would_be))
    return rows


def estimates_for(*args: object, **kwargs: object) -> list[Estimate]:
    return estimate_all({"frt_bm": outcomes(*args, **kwargs)}, n_boot=400)  # type: ignore[arg-type]


def test_a_large_sample_with_a_real_effect_is_shown() -> None:
    found = verdict(estimates_for(1500, 400, -0.3, seed=1), LABELS)
    assert found.status == SHOWN_BETTER
    text = " ".join(found.paragraphs)
    assert text.startswith("Эффект показан: ассистент ускоряет первый ответ.")
    assert "Время первого ответа с ассистентом на " in text
    assert "меньше, чем в контрольной группе (95 % ДИ от −" in text
    assert "Интервал не включает ноль." in text
    assert "Проверка разностью разностей" in text


def test_a_small_sample_is_not_shown_yet_and_says_how_many_tickets_are_needed() -> None:
    rows = estimates_for(120, 30, -0.2, seed=3)
    primary = next(r for r in rows if r.segment == "ALL" and r.comparison == "treatment_vs_holdout")
    assert primary.ci95_low is not None
    assert primary.ci95_high is not None
    assert primary.ci95_low < 0 < primary.ci95_high
    assert primary.mde_80 is not None
    assert primary.mde_80 > abs(primary.rel_change or 0)
    found = verdict(rows, LABELS)
    assert found.status == NOT_SHOWN_UNDERPOWERED
    text = found.paragraphs[0]
    assert text.startswith("Эффект пока не показан: данных недостаточно.")
    assert f"изменение от {pct(primary.mde_80, signed=False)} (MDE)" in text
    needed = tickets_needed(primary, max(abs(primary.rel_change or 0), 0.10))
    assert needed is not None
    assert needed > 150
    assert found.tickets_needed == needed
    assert (
        f"нужно около {needed} обращений в обеих группах вместе — ещё примерно {needed - 150}."
        in text
    )


def test_a_large_sample_without_an_effect_bounds_it() -> None:
    found = verdict(estimates_for(3000, 3000, 0.0, seed=5), LABELS)
    assert found.status == NOT_SHOWN
    assert found.paragraphs[0].startswith("Эффект не обнаружен.")
    assert "он, скорее всего, меньше" in found.paragraphs[0]


def test_no_estimate_when_an_arm_is_empty() -> None:
    found = verdict(estimates_for(50, 0, -0.3, seed=7), LABELS)
    assert found.status == NO_ESTIMATE
    assert "Оценки эффекта пока нет" in found.paragraphs[0]


def test_thin_categories_are_listed_not_dropped() -> None:
    rows = estimates_for(600, 150, -0.3, seed=11, thin="sso_ldap")
    thin = [r for r in rows if r.method == INSUFFICIENT_METHOD]
    assert [(r.segment, r.n_control) for r in thin] == [("sso_ldap", 2)]
    text = " ".join(verdict(rows, LABELS).paragraphs)
    assert re.search(r"Недостаточно данных .*: SSO, AD и вход \(\d+/2\)\.", text)
    page = render_report(ReportData(generated_at=datetime(2026, 11, 26, tzinfo=UTC), effects=rows))
    assert "<td>SSO, AD и вход</td><td>Недостаточно данных</td>" in page
    assert "Справочники" in page  # category names, not codes
    assert ">catalogs<" not in page


# 13 drafts used of 33 early, 20 of 30 late: the share rises from 39 % to 67 %
ADOPTION = [
    AdoptionWeek(date(2026, 9, 7), 3, 10, 20),
    AdoptionWeek(date(2026, 9, 14), 8, 12, 10),
]
GAP_DOCUMENTS = [
    GapDocument("Настройка SSO через ADFS", "https://kb.example.ru/pages/1", 7, ("sso_ldap",)),
    GapDocument("Импорт справочника из Excel", None, 3, ("catalogs", "sso_ldap")),
]
VOLUME = [
    WeekCount(date(2026, 10, 26) + (date(2026, 1, 8) - date(2026, 1, 1)) * i, n)
    for i, n in enumerate([70, 80, 90, 100, 110])
]


@pytest.fixture(scope="module")
def page() -> str:
    rows = estimates_for(120, 30, -0.2, seed=3)
    return render_report(
        ReportData(
            generated_at=datetime(2026, 11, 26, tzinfo=UTC),
            effects=rows,
            weekly=[
                WeeklyPoint(date(2026, 9, 7), "treatment", 75, 30),
                WeeklyPoint(date(2026, 9, 14), "treatment", 71, 28),
                WeeklyPoint(
                    date(2026, 9, 7), "holdout", 100, MIN_WEEKLY_TICKETS + 2, date(2026, 9, 14)
                ),
            ],
            adoption=ADOPTION,
            gaps=[GapRow(date(2026, 9, 7), "sso_ldap", 4)],
            gap_documents=GAP_DOCUMENTS,
            period=Period(date(2026, 6, 1), date(2026, 11, 25), date(2026, 8, 3)),
            weekly_volume=VOLUME,
            planted_effect=-0.25,
            arm_rows=[
                ArmRow("frt_bm", "treatment_vs_holdout", "median", 88, 446, 95.0, 71.25),
                ArmRow("frt_sla_attainment", "post_vs_pre", "rate", 88, 446, 0.739, 0.8),
            ],
            feedback_counts={"да": 12, "частично": 5},
        )
    )


def test_the_page_speaks_russian_with_units(page: str) -> None:
    assert "Вывод: эффект пока не показан — мало данных" in page
    assert "<td>Время первого ответа, раб. мин</td>" in page
    assert "<td>Первый ответ в срок SLA, %</td>" in page
    assert "73,9 %" in page
    assert "95 раб. мин" in page
    assert "После запуска против до запуска" in page
    assert "<td>частично</td><td>5</td>" in page
    assert "Заложенный в демо-данные эффект: −25,0 %" in page
    for code in ("frt_bm", "treatment_vs_holdout", "post_vs_pre", ">ALL<", "лечение"):
        assert code not in page
    # weekly medians, categories, draft adoption; the gaps are a table, not a chart
    assert page.count("data:image/png;base64,") == 3
    assert not re.search(r"src=['\"]https?://", page)  # opens offline; links stay links


def test_period_rollout_and_moscow_time_come_first(page: str) -> None:
    assert "обращения с 01.06.2026 по 25.11.2026" in page
    assert "<b>Ассистент включён</b> 03.08.2026: до запуска — 9 недель" in page
    assert "после — 16 недель" in page
    # 26.11.2026 00:00 UTC is 03:00 in Moscow
    assert "Отчёт построен 26.11.2026 03:00 по московскому времени" in page
    assert page.index("Данные:") < page.index("Вывод:") < page.index("Главное")


def test_weeks_until_the_answer_at_todays_volume(page: str) -> None:
    rows = estimates_for(120, 30, -0.2, seed=3)
    judged = verdict(rows, LABELS)
    primary = next(
        r
        for r in rows
        if r.metric == "frt_bm" and r.segment == "ALL" and r.comparison == "treatment_vs_holdout"
    )
    assert judged.status == NOT_SHOWN_UNDERPOWERED
    assert judged.tickets_needed
    more = judged.tickets_needed - primary.n_treated - primary.n_control
    volume = (80 + 90 + 100 + 110) / 4  # the last four complete weeks
    weeks = math.ceil(more / volume)
    assert f"нужно ещё около {more} обращений с ответом" in page
    assert re.search(rf"примерно через {weeks} недел[ьяи]", page)
    assert "около 95 обращений с ответом в неделю" in page


def test_draft_adoption_is_a_share_with_its_trend(page: str) -> None:
    assert "Черновик пригодился в 52\u00a0% обращений" in page  # (3 + 10 + 8 + 12) / 63
    assert "не использован — 48\u00a0% (30 из 63)" in page
    assert (
        "Доля растёт: в первые недели после запуска — 39\u00a0%, в последние — 67\u00a0%." in page
    )
    assert "<img alt='draft adoption by week'" in page


def test_gaps_are_a_ranked_table_with_links_and_categories(page: str) -> None:
    table = page[page.index("<table class='gaps'>") :]
    assert table.index("Настройка SSO через ADFS") < table.index("Импорт справочника из Excel")
    assert "<a href='https://kb.example.ru/pages/1'>Настройка SSO через ADFS</a>" in table
    assert "<td class='n'>7</td><td>SSO, AD и вход</td>" in table
    assert "Справочники, SSO, AD и вход" in table
    assert "Бот не нашёл ни одной подходящей статьи в 4 обращениях" in page


def test_no_gaps_says_so() -> None:
    page = render_report(ReportData(generated_at=datetime(2026, 11, 26, tzinfo=UTC)))
    assert "Пробелов не найдено" in page


def test_each_metric_says_which_way_is_better_and_wrong_moves_get_a_sentence() -> None:
    rows = [
        Estimate("full_resolution_bm", "ALL", "treatment_vs_holdout", "bootstrap", 80, 400,
                 900.0, 961.2, 0.068, -0.05, 0.2, 0.3),
        Estimate("frt_sla_attainment", "ALL", "treatment_vs_holdout", "bootstrap", 80, 400,
                 0.7, 0.8, 0.14, 0.02, 0.25, 0.1),
        Estimate("reopen_rate_7d", "ALL", "treatment_vs_holdout", "bootstrap", 80, 400,
                 0.05, 0.08, 0.6, 0.1, 1.2, 0.4),
    ]  # fmt: skip
    page = render_report(ReportData(generated_at=datetime(2026, 11, 26, tzinfo=UTC), effects=rows))
    assert "<td>↓ меньше</td>" in page
    assert "<td>↑ больше</td>" in page
    assert (
        "Время решения с ассистентом на 6,8 % больше, чем в контрольной группе, а лучше, "
        "когда меньше (95 % ДИ от −5,0 % до +20,0 %). Интервал включает ноль" in page
    )
    assert "Переоткрытия за 7 дней с ассистентом на 60,0 % больше" in page
    assert "ухудшение, скорее всего, настоящее" in page
    assert "Первый ответ в срок SLA с ассистентом" not in page  # higher is better: no warning
    sla_row = page[page.index("<td>Первый ответ в срок SLA, %</td>") :]
    assert sla_row.split("</tr>")[0].endswith("<td>показан</td>")


def test_each_comparison_names_its_method(page: str) -> None:
    assert "<td>Все обращения</td>" not in page  # the headline table is by metric
    assert re.search(r"<td>Время первого ответа, раб\. мин</td><td>Отношение медиан</td>", page)
    assert re.search(r"<td>Время первого ответа, раб\. мин</td><td>Разность разностей</td>", page)
    assert page.index("<td>Отношение медиан</td>") < page.index("<td>Разность разностей</td>")
    assert "Каждая точка — медиана не меньше чем 10 обращений с ответом" in page
    assert "объединена со следующей, а в конце ряда — с предыдущей" in page


def test_report_without_data_says_so() -> None:
    page = render_report(ReportData(generated_at=datetime(2026, 11, 26, tzinfo=UTC)))
    assert "Недостаточно данных" in page
    assert "Вывод: оценки пока нет" in page
    assert "data:image/png" not in page


def test_the_prefect_artifact_is_a_short_summary_with_a_link(tmp_path: Path) -> None:
    rows = estimates_for(120, 30, -0.2, seed=3)
    report = tmp_path / "reports" / "effect-report.html"
    text = summary_markdown(rows, LABELS, report)
    assert text.startswith("## Эффект ИИ-помощника: эффект пока не показан — мало данных")
    assert "| Время первого ответа | −" in text
    assert "| меньше |" in text
    assert f"[effect-report.html]({report.resolve().as_uri()})" in text
    assert "data:image" not in text
    assert "<" not in text  # markdown, not HTML
    assert len(text) < 2000
