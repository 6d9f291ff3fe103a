"""The "LLM health" section of `kb report effect`: how often the LLM gave the suggestion.

Read from marts.fct_llm_calls_daily (dbt_project/models/marts/quality/): over the report's
last `DAYS` days, the share of LLM calls that became the suggestion, the fallbacks to
retrieval-only by reason, latency percentiles and tokens. Empty (no section) while no
LLM was ever asked — a deployment without an LLM has nothing to show here.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import psycopg

DAYS = 28
REASONS = {  # mart column → what the operator reads
    "fallback_unavailable": "сервер недоступен или ответил ошибкой",
    "fallback_truncated": "ответ оборвался на лимите длины",
    "fallback_context": "не поместилось в контекст модели",
    "fallback_uncited": "ответ без ссылок на источники",
    "fallback_invalid": "ответ не в формате JSON",
    "fallback_unsafe": "ответ не прошёл проверку безопасности",
}


@dataclass
class LLMHealth:
    """Totals over the last `DAYS` days with LLM calls."""

    days: int = 0
    calls: int = 0
    llm_suggestions: int = 0
    fallbacks: dict[str, int] = field(default_factory=dict)
    latency_p50_ms: float | None = None  # the median of the daily medians
    latency_p95_ms: float | None = None  # the worst daily p95
    prompt_tokens: int = 0
    completion_tokens: int = 0


def load_llm_health(conn: psycopg.Connection) -> LLMHealth:
    """Totals from the mart; an empty `LLMHealth` when the mart does not exist yet."""
    row = conn.execute("select to_regclass('marts.fct_llm_calls_daily')").fetchone()
    if row is None or row[0] is None:
        return LLMHealth()
    totals = conn.execute(
        "with recent as (select * from marts.fct_llm_calls_daily"
        " order by generated_date_msk desc limit %s)"
        " select count(*)::int, coalesce(sum(llm_calls), 0)::int,"
        " coalesce(sum(llm_suggestions), 0)::int,"
        " percentile_cont(0.5) within group (order by latency_p50_ms), max(latency_p95_ms),"
        " coalesce(sum(prompt_tokens), 0)::bigint, coalesce(sum(completion_tokens), 0)::bigint,"
        # in the order of REASONS
        " sum(fallback_unavailable)::int, sum(fallback_truncated)::int,"
        " sum(fallback_context)::int, sum(fallback_uncited)::int, sum(fallback_invalid)::int,"
        " sum(fallback_unsafe)::int"
        " from recent",
        (DAYS,),
    ).fetchone()
    assert totals is not None
    days, calls, good, p50, p95, prompt, completion, *reasons = totals
    return LLMHealth(
        days=days,
        calls=calls,
        llm_suggestions=good,
        fallbacks={name: int(n or 0) for name, n in zip(REASONS, reasons, strict=True)},
        latency_p50_ms=float(p50) if p50 is not None else None,
        latency_p95_ms=float(p95) if p95 is not None else None,
        prompt_tokens=int(prompt),
        completion_tokens=int(completion),
    )


def section_html(health: LLMHealth) -> str:
    """The report section (Russian, for the support lead), or "" with no LLM calls."""
    if not health.calls:
        return ""
    share = health.llm_suggestions / health.calls
    rows = "".join(
        f"<tr><td>{html.escape(label)}</td><td>{health.fallbacks.get(name, 0)}</td></tr>"
        for name, label in REASONS.items()
    )
    latency = (
        f"медиана {health.latency_p50_ms / 1000:.1f} с, 95-й процентиль до "
        f"{(health.latency_p95_ms or 0) / 1000:.1f} с"
        if health.latency_p50_ms is not None
        else "нет данных"
    )
    per_call = (health.prompt_tokens + health.completion_tokens) / health.calls
    return (
        "<h2>Здоровье языковой модели</h2>"
        f"<p>За {health.days} дн. с обращениями к модели: {health.calls} запросов, из них "
        f"{health.llm_suggestions} ({share:.0%}) стали подсказкой модели. "
        f"Время ответа: {latency}. Токенов на запрос в среднем: {per_call:.0f}.</p>"
        "<table><tr><th>Почему подсказка собрана без модели</th><th>Обращений</th></tr>"
        f"{rows}</table>"
    )
