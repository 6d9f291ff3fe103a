"""The bot's Pyrus comment: `formatted_text` HTML plus a plain `text` fallback.

Everything that came from a ticket, the knowledge base or the LLM is escaped, and
links are only emitted for http(s) URLs, so a hostile ticket cannot inject markup or
`javascript:` links into the comment employees read. The body never carries
`channel`: a comment without a channel stays inside Pyrus (docs/pyrus-api.md §5), which
is what makes this an internal note rather than a reply to the customer.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass, field
from typing import Any

from assistant.bot.models import SourceRef, Suggestion
from assistant.errors import KbError

logger = logging.getLogger(__name__)

HEADING = "Рекомендация ИИ-помощника"
# Cloud default; deployments pass `AssistantSettings.pyrus_task_url_prefix` (PYRUS_WEB_URL).
PYRUS_TASK_URL_PREFIX = "https://pyrus.com/t#id"

_MODE_NOTES = {
    "llm_not_configured": "Языковая модель не подключена: подсказка собрана только из поиска "
    "по базе знаний и похожим заявкам.",
    "llm_unavailable": "Языковая модель сейчас недоступна: подсказка собрана только из поиска "
    "по базе знаний и похожим заявкам.",
    "llm_uncited": "Ответ языковой модели не ссылался ни на один из найденных источников и "
    "отброшен: подсказка собрана только из поиска по базе знаний и похожим заявкам.",
    "llm_truncated": "Ответ языковой модели оборвался на лимите длины: подсказка собрана только "
    "из поиска по базе знаний и похожим заявкам.",
    "llm_context": "Обращение с источниками не поместилось в контекст языковой модели: подсказка "
    "собрана только из поиска по базе знаний и похожим заявкам.",
    "llm_invalid": "Языковая модель ответила не в том формате: подсказка собрана только из "
    "поиска по базе знаний и похожим заявкам.",
    "llm_unsafe": "Ответ языковой модели не прошёл проверку безопасности (чужая ссылка, "
    "просьба сообщить данные карты или пароль, персональные данные) и отброшен: подсказка "
    "собрана только из поиска по базе знаний и похожим заявкам.",
}
NOTHING_FOUND = (
    "В базе знаний и в решённых заявках не нашлось материалов по этому обращению. "
    "Готового ответа нет — уточните детали у клиента или передайте вопрос на вторую линию."
)
FOOTER = "Это внутренняя подсказка для сотрудника; клиенту она не отправлялась."


def category_names() -> dict[str, str]:
    """Russian category names for the comment, from the taxonomy seed (empty if missing).

    Here rather than in `pipeline.py` so that `kb ask` gets them without importing the
    pipeline's HTTP client.
    """
    try:
        from assistant.categorization.taxonomy import load_taxonomy

        return {category.code: category.name_ru for category in load_taxonomy().categories}
    except (ImportError, KbError, OSError) as exc:
        logger.warning("category names unavailable: %s", exc)
        return {}


def pyrus_task_url(task_id: Any, prefix: str = PYRUS_TASK_URL_PREFIX) -> str:
    """The web link of a Pyrus task (`prefix` from PYRUS_WEB_URL for on-premise servers)."""
    return f"{prefix}{task_number(task_id)}"


@dataclass(frozen=True)
class CommentBody:
    """The JSON body of `POST /tasks/{id}/comments`."""

    text: str
    formatted_text: str
    field_updates: list[dict[str, Any]] = field(default_factory=list)
    reply_note_id: int | None = None  # a threaded reply to this comment (docs/pyrus-api.md §5)

    def to_request(self) -> dict[str, Any]:
        """Request JSON; deliberately without `channel` (never sent to the customer)."""
        body: dict[str, Any] = {"text": self.text, "formatted_text": self.formatted_text}
        if self.field_updates:
            body["field_updates"] = self.field_updates
        if self.reply_note_id is not None:
            body["reply_note_id"] = self.reply_note_id
        return body


def _esc(text: Any) -> str:
    return html.escape(str(text or ""), quote=True)


def _safe_url(url: str | None) -> str | None:
    url = (url or "").strip()
    return url if url.lower().startswith(("https://", "http://")) else None


def _link(ref: SourceRef, label: str) -> str:
    url = _safe_url(ref.url)
    if url is None:
        return _esc(label)
    return f'<a href="{_esc(url)}">{_esc(label)}</a>'


def task_number(document_id: Any) -> str:
    """`pyrus:201534789` (the index's document id) or `201534789` → `201534789`."""
    return str(document_id).removeprefix("pyrus:")


def _ticket_label(ref: SourceRef) -> str:
    number = task_number(ref.document_id)
    return f"#{number} {ref.title}".strip() if ref.title else f"#{number}"


def _multiline(text: str) -> str:
    return "<br>".join(_esc(line) for line in text.splitlines())


def format_comment(
    suggestion: Suggestion,
    *,
    category_name: str | None = None,
    draft_field_id: int | None = None,
) -> CommentBody:
    """Render a suggestion as a Pyrus comment (HTML and plain text)."""
    parts = [f"<p><b>{_esc(HEADING)}</b></p>"]
    lines = [HEADING]
    if suggestion.category_code:
        shown = category_name or suggestion.category_code
        confidence = suggestion.category_confidence
        suffix = f" (уверенность {confidence:.2f})" if confidence is not None else ""
        parts.append(f"<p>Категория: <b>{_esc(shown)}</b>{_esc(suffix)}</p>")
        lines.append(f"Категория: {shown}{suffix}")
    if suggestion.mode == "no_match":
        parts.append(f"<p>{_esc(NOTHING_FOUND)}</p>")
        lines.append(NOTHING_FOUND)
    elif suggestion.fallback_reason in _MODE_NOTES:
        note = _MODE_NOTES[suggestion.fallback_reason]
        parts.append(f"<p><i>{_esc(note)}</i></p>")
        lines.append(note)
    if suggestion.steps:
        title = "Что сделать" if suggestion.mode == "llm" else "Шаги из базы знаний"
        items = "".join(f"<li>{_esc(step)}</li>" for step in suggestion.steps)
        parts.append(f"<p><b>{title}</b></p><ol>{items}</ol>")
        lines.append(f"{title}:")
        lines.extend(f"{i}. {step}" for i, step in enumerate(suggestion.steps, 1))
    if suggestion.sources:
        items = "".join(
            f"<li>{_link(ref, ref.title or ref.url)}</li>" for ref in suggestion.sources
        )
        parts.append(f"<p><b>Источники</b></p><ul>{items}</ul>")
        lines.append("Источники:")
        lines.extend(f"- {ref.title} {ref.url}".rstrip() for ref in suggestion.sources)
    if suggestion.similar_tickets:
        items = "".join(
            f"<li>{_link(ref, _ticket_label(ref))}</li>" for ref in suggestion.similar_tickets
        )
        parts.append(f"<p><b>Похожие решённые заявки</b></p><ul>{items}</ul>")
        lines.append("Похожие решённые заявки:")
        lines.extend(
            f"- {_ticket_label(ref)} {ref.url}".rstrip() for ref in suggestion.similar_tickets
        )
    field_updates: list[dict[str, Any]] = []
    if suggestion.draft_reply:
        if draft_field_id is not None:
            field_updates.append({"id": draft_field_id, "value": suggestion.draft_reply})
            parts.append("<p>Черновик ответа клиенту — в поле формы «Черновик ответа».</p>")
            lines.append("Черновик ответа клиенту — в поле формы «Черновик ответа».")
        else:
            parts.append(
                f"<p><b>Черновик ответа клиенту</b></p><p>{_multiline(suggestion.draft_reply)}</p>"
            )
            lines.extend(["Черновик ответа клиенту:", suggestion.draft_reply])
    parts.append(f"<p><i>{_esc(FOOTER)}</i></p>")
    lines.append(FOOTER)
    return CommentBody(
        text="\n".join(lines), formatted_text="".join(parts), field_updates=field_updates
    )


def format_terminal(suggestion: Suggestion, *, category_name: str | None = None) -> str:
    """The same content as plain text, for `kb ask`."""
    return format_comment(suggestion, category_name=category_name).text
