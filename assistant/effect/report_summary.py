"""The effect report in a few markdown lines, for a Prefect artifact.

The Prefect UI shows markdown unstyled and a 300 KB page with embedded PNGs is
unreadable there, so the artifact carries the verdict, the overall numbers and a link
to the full HTML file the effect stage wrote (flows/effect.py: report_path).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from assistant.effect.labels import Labels
from assistant.effect.report import VERDICT_STYLE
from assistant.effect.stats import INSUFFICIENT_METHOD, Estimate
from assistant.effect.verdict import PRIMARY_COMPARISON, better_when, pct, verdict


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def summary_markdown(estimates: Sequence[Estimate], labels: Labels, report: Path) -> str:
    """Verdict, one table row per overall metric (assistant vs control), the report link."""
    judged = verdict(estimates, labels)
    _, title = VERDICT_STYLE[judged.status]
    rows = [
        f"| {_cell(labels.metric(e.metric).name)} | {pct(e.rel_change)} | "
        f"{pct(e.ci95_low)} … {pct(e.ci95_high)} | {better_when(e.metric)} |"
        for e in estimates
        if e.segment == "ALL"
        and e.comparison == PRIMARY_COMPARISON
        and e.method != INSUFFICIENT_METHOD
    ]
    table = (
        [
            "| метрика | изменение с ассистентом | 95 % ДИ | лучше, когда |",
            "|---|---|---|---|",
            *rows,
        ]
        if rows
        else []
    )
    link = report.resolve().as_uri()
    return "\n".join(
        [
            f"## Эффект ИИ-помощника: {title}",
            "",
            judged.paragraphs[0] if judged.paragraphs else "",
            "",
            *table,
            "",
            f"Полный отчёт (графики, категории, пробелы в базе знаний): [{report.name}]({link})",
            f"— файл `{report.resolve()}`, открывается в браузере без сервера.",
        ]
    )
