"""The HTML report renders plots and numbers into one self-contained page."""

from datetime import UTC, date, datetime

from assistant.report import EffectRow, GapRow, ReportData, WeeklyPoint, render_report


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
    )
    page = render_report(data)
    assert page.count("data:image/png;base64,") == 4
    assert "-25.0%" in page
    assert "[-31.0%; -18.0%]" in page
    assert "http://" not in page
    assert "https://" not in page
