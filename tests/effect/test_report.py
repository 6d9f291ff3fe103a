"""The HTML report renders plots and numbers into one self-contained page."""

from datetime import UTC, date, datetime

from assistant.effect.report import (
    ArmRow,
    EffectRow,
    GapRow,
    ReportData,
    WeeklyPoint,
    render_report,
)


def test_report_contains_plots_and_numbers() -> None:
    data = ReportData(
        generated_at=datetime(2026, 11, 26, tzinfo=UTC),
        effects=[
            EffectRow(
                "frt_bm",
                "ALL",
                "treatment_vs_holdout",
                "m",
                40,
                160,
                100,
                75,
                -0.25,
                -0.31,
                -0.18,
                0.2,
            ),
            EffectRow(
                "frt_bm",
                "catalogs",
                "treatment_vs_holdout",
                "m",
                5,
                20,
                90,
                70,
                -0.22,
                -0.4,
                0.1,
                None,
            ),
        ],
        weekly=[
            WeeklyPoint(date(2026, 9, 7), "treatment", 75, 30),
            WeeklyPoint(date(2026, 9, 7), "holdout", 100, 8),
        ],
        usage_counts={"accepted": 3, "edited": 10, "ignored": 20},
        gaps=[GapRow(date(2026, 9, 7), "sso_ldap", 4)],
        planted_effect=-0.25,
        arm_rows=[
            ArmRow("frt_bm", "treatment_vs_holdout", "median", 88, 446, 95.0, 71.25),
            ArmRow("frt_sla_attainment", "treatment_vs_holdout", "rate", 88, 446, 0.739, 0.8),
        ],
        feedback_counts={"да": 12, "частично": 5},
    )
    page = render_report(data)
    assert page.count("data:image/png;base64,") == 4
    assert "-25.0%" in page
    assert "[-31.0%; -18.0%]" in page
    assert "http://" not in page
    assert "https://" not in page
    assert "SLA первого ответа соблюдён" in page
    assert "73.9%" in page
    assert "<td>частично</td><td>5</td>" in page


def test_report_without_data_says_so() -> None:
    page = render_report(ReportData(generated_at=datetime(2026, 11, 26, tzinfo=UTC)))
    assert "Недостаточно данных" in page
    assert "data:image/png" not in page
