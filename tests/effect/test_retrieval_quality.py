"""The report's retrieval-quality section: pooled daily points and a rolling mean."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from assistant.effect.report import ReportData, render_report
from assistant.effect.retrieval_quality import QualityPoint, _rolling, in_words, section_html


def _points() -> list[QualityPoint]:
    start = date(2026, 11, 1)
    return [
        QualityPoint(start + timedelta(days=i), arm, 2 + i % 3, 0.5 + 0.01 * i, 0.4)
        for i in range(10)
        for arm in ("treatment", "holdout")
    ]


def test_rolling_mean_is_weighted_by_labelled_tickets() -> None:
    points = [
        QualityPoint(date(2026, 11, 1), "treatment", 1, 1.0, 1.0),
        QualityPoint(date(2026, 11, 2), "treatment", 3, 0.0, 0.0),
    ]
    assert _rolling(points, "mrr") == [1.0, 0.25]
    late = QualityPoint(date(2026, 11, 8), "treatment", 1, 0.5, 0.5)  # day 1 left the window
    assert _rolling([*points, late], "mrr") == [1.0, 0.25, 0.125]


def test_section_is_added_to_the_report_only_with_labels() -> None:
    assert section_html([]) == ""
    section = section_html(_points())
    assert "Качество поиска" in section
    assert "data:image/png;base64," in section
    generated = datetime(2026, 11, 26, tzinfo=UTC)
    page = render_report(ReportData(generated_at=generated, retrieval_section=section))
    assert section in page


def test_quality_in_words_a_lead_reads() -> None:
    points = [
        QualityPoint(date(2026, 11, 1), "treatment", 6, 0.5, 0.5),
        QualityPoint(date(2026, 11, 2), "holdout", 4, 1.0, 0.25),
    ]  # recall@5 (3 + 4) / 10, MRR (3 + 1) / 10
    section = section_html(points)
    assert "В 7 из 10 заявок нужная статья была среди первых пяти" in section
    assert "стояла на месте около 2,5" in section
    assert "MRR = 0,40" in section
    assert in_words(0.96) == "в 96 из 100 заявок"  # not "10 из 10" while one is missed
    assert in_words(0.02) == "в 2 из 100 заявок"
    assert in_words(1.0) == "в 10 из 10 заявок"
