"""`kb demo` prints the whole loop on two screens: at most 100 lines at 100 columns.

The demo's printing functions are called in the order `run_demo` calls them, with the
real stage summaries' shape and a comment rendered by the bot's own formatter, so the
bound is checked without running the six-minute demo.
"""

from __future__ import annotations

import io

from rich.console import Console

from assistant.bot.comment_format import format_comment
from assistant.bot.models import SourceRef, Suggestion
from flows.demo import (
    NEXT_STEPS,
    print_bot_result,
    print_emulators,
    print_extract,
    print_step,
)
from flows.refresh import StageResult
from flows.stages import REFRESH_ORDER
from flows.terminal import print_stage

SCREENS = 2 * 50
WIDTH = 100
COUNTERS = {f"counter_{i}": 1000 + i for i in range(40)}
SOURCES = {"pyrus": COUNTERS, "confluence": COUNTERS}
DRAFT = "\n".join(
    ["Здравствуйте, Марина!", ""]
    + [f"{i}. Откройте «Шаблон» → поле «Итого» → «Обязательно на этапе»." for i in range(1, 9)]
    + ["", "Если вопрос останется — ответьте на это сообщение, разберёмся."]
)


def _ref(i: int, source: str) -> SourceRef:
    url = (
        f"http://127.0.0.1:55363/pages/viewpage.action?pageId={1900100 + i}"
        if source == "confluence"
        else f"http://127.0.0.1:58353/t#id{232507470 + i}"
    )
    title = "Кнопка «Согласовать» не срабатывает: обязательные поля на этапе согласования"
    return SourceRef(f"S{i}", str(i), f"{source}:{i}", source, title, url, 0.5)


def _comment(steps: int, step_chars: int) -> str:
    """The HTML comment the bot posts, from the real formatter (draft in the form field)."""
    suggestion = Suggestion(
        mode="retrieval_only",
        steps=[("Найдите подсвеченное поле и проверьте этап. " * 20)[:step_chars]] * steps,
        draft_reply=DRAFT,
        sources=[_ref(i, "confluence") for i in range(3)],
        similar_tickets=[_ref(i, "pyrus") for i in range(4)],
        category_code="routes",
        category_confidence=0.56,
        fallback_reason="llm_not_configured",
    )
    return format_comment(suggestion, category_name="Маршрут", draft_field_id=7).formatted_text


def _transcript(comment_html: str, draft: str) -> list[str]:
    # a terminal: `make demo > demo.log` keeps every line whole (the last test)
    console = Console(
        width=WIDTH, record=True, file=io.StringIO(), color_system=None, force_terminal=True
    )
    print_step(console, 1, "Embedded Postgres + pgvector ready; starting the emulators…")
    print_emulators(console, "http://127.0.0.1:58353", "http://127.0.0.1:55363")
    print_step(console, 2, "kb-refresh over the sample history (day 1)…")
    for name in REFRESH_ORDER:
        summary = SOURCES if name == "extract" else COUNTERS
        print_stage(console, StageResult(name, "ok", 123.4, summary), cut=True)
    print_step(console, 3, "One day later: the incremental extract…")
    print_extract(console, SOURCES)
    print_step(console, 4, "A new ticket arrives; Pyrus calls the bot's webhook…")
    print_bot_result(console, "Ticket #232644969: «Заявка не уходит дальше»", comment_html, draft)
    console.print(NEXT_STEPS)
    return console.export_text().splitlines()


def test_a_usual_run_fits_two_screens_and_shows_the_whole_comment() -> None:
    lines = _transcript(_comment(steps=4, step_chars=220), DRAFT)
    assert len(lines) <= SCREENS
    assert all(len(line) <= WIDTH for line in lines)
    text = "\n".join(lines)
    assert "ещё строк" not in text  # nothing of a usual comment or draft is cut
    assert "Если вопрос останется" in text
    assert text.count("t#id23250747") == 4  # every similar ticket
    assert sum(line.startswith(("ok ", "ok\t")) for line in lines) == len(REFRESH_ORDER)


def test_a_long_comment_and_draft_are_cut_to_stay_within_two_screens() -> None:
    long_draft = "\n".join(f"Строка черновика номер {i}" for i in range(60))
    lines = _transcript(_comment(steps=30, step_chars=300), long_draft)
    assert len(lines) <= SCREENS
    text = "\n".join(lines)
    assert text.count("… ещё строк") == 2
    assert "Строка черновика номер 0" in text
    assert "Строка черновика номер 59" not in text


def test_a_failed_stage_keeps_its_whole_reason() -> None:
    console = Console(width=WIDTH, record=True, file=io.StringIO(), color_system=None)
    reason = "dbt model int_ticket_events_classified failed: " + "column x does not exist " * 8
    print_stage(console, StageResult("transform", "failed", 3.0, error=reason), cut=True)
    assert "".join(console.export_text().split()).endswith("".join(reason.split()))


def test_stage_lines_in_a_log_file_are_whole() -> None:
    """Written to a file or pipe, nothing is cut: tune's reason ends its line."""
    console = Console(width=80, record=True, file=io.StringIO(), color_system=None)
    summary = {"changed": False, "version": "2026-12-07-ab068d73", "reason": "kept: " + "x" * 90}
    print_stage(console, StageResult("tune", "ok", 45.2, summary), cut=True)
    print_extract(console, {"pyrus": {**COUNTERS, "last": "end of the line"}})
    text = "".join(console.export_text().split())
    assert "kept:" + "x" * 90 in text
    assert text.endswith("lastendoftheline")
    assert "…" not in text
