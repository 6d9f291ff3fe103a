"""The Pyrus comment: heading, category, steps, links, draft; everything escaped."""

from __future__ import annotations

from html.parser import HTMLParser

from assistant.bot.comment_format import HEADING, format_comment, pyrus_task_url
from assistant.bot.models import SourceRef, Suggestion


def page(
    label: str = "S1", title: str = "Сброс пароля", url: str = "https://wiki/p/1"
) -> SourceRef:
    return SourceRef(label, 11, "page-1", "confluence", title, url, 0.9)


def ticket(task_id: int = 201500001) -> SourceRef:
    return SourceRef("S2", 12, task_id, "pyrus", "Не приходит письмо", pyrus_task_url(task_id), 0.7)


def suggestion(**overrides: object) -> Suggestion:
    values: dict[str, object] = {
        "mode": "llm",
        "steps": ["Проверьте «Журнал рассылок».", "Попросите другой email."],
        "draft_reply": "Здравствуйте, Ольга!\nПроверили рассылку.",
        "sources": [page()],
        "similar_tickets": [ticket()],
        "category_code": "account_access",
        "category_confidence": 0.87,
    }
    values.update(overrides)
    return Suggestion(**values)  # type: ignore[arg-type]


class _Checker(HTMLParser):
    """Collects tags and links; fails on unbalanced tags."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.links: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "br":
            return
        self.stack.append(tag)
        if tag == "a":
            self.links.append(dict(attrs)["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        assert self.stack, f"unbalanced </{tag}>"
        assert self.stack.pop() == tag, f"unbalanced </{tag}>"


def parse(html: str) -> _Checker:
    checker = _Checker()
    checker.feed(html)
    checker.close()
    assert checker.stack == []
    return checker


def test_full_comment_is_well_formed_and_internal() -> None:
    body = format_comment(suggestion(), category_name="Доступ к аккаунту")
    checker = parse(body.formatted_text)
    assert body.formatted_text.startswith(f"<p><b>{HEADING}</b></p>")
    assert "Доступ к аккаунту" in body.formatted_text
    assert "0.87" in body.formatted_text
    assert "<ol><li>Проверьте «Журнал рассылок».</li>" in body.formatted_text
    assert checker.links == ["https://wiki/p/1", "https://pyrus.com/t#id201500001"]
    assert "Черновик ответа клиенту" in body.formatted_text
    assert "Здравствуйте, Ольга!<br>Проверили рассылку." in body.formatted_text
    request = body.to_request()
    assert "channel" not in request  # never sent to the customer
    assert "field_updates" not in request
    assert body.text.startswith(HEADING)
    assert "1. Проверьте" in body.text


def test_draft_goes_to_field_when_configured() -> None:
    body = format_comment(suggestion(), draft_field_id=14)
    assert body.field_updates == [{"id": 14, "value": "Здравствуйте, Ольга!\nПроверили рассылку."}]
    assert "Проверили рассылку" not in body.formatted_text
    assert body.to_request()["field_updates"][0]["id"] == 14


def test_everything_from_tickets_and_llm_is_escaped() -> None:
    hostile = suggestion(
        steps=["<script>alert(1)</script>", '<a href="javascript:x">клик</a>'],
        draft_reply='"><img src=x onerror=alert(1)>',
        sources=[page(title="<b>жирный</b>", url="javascript:alert(1)")],
        category_code="<i>x</i>",
    )
    body = format_comment(hostile)
    checker = parse(body.formatted_text)
    assert "script" not in checker.tags
    assert "img" not in checker.tags
    assert checker.links == ["https://pyrus.com/t#id201500001"]  # javascript: is not linked
    assert "&lt;script&gt;" in body.formatted_text
    assert "&lt;b&gt;жирный&lt;/b&gt;" in body.formatted_text


def test_retrieval_only_and_no_match_are_marked() -> None:
    fallback = format_comment(suggestion(mode="retrieval_only", fallback_reason="llm_unavailable"))
    assert "Языковая модель сейчас недоступна" in fallback.formatted_text
    assert "Шаги из базы знаний" in fallback.formatted_text
    nothing = format_comment(
        suggestion(mode="no_match", steps=[], sources=[], similar_tickets=[], category_code=None)
    )
    assert "не нашлось материалов" in nothing.formatted_text
    assert "Источники" not in nothing.formatted_text
    parse(nothing.formatted_text)


def test_task_links_use_the_configured_web_url() -> None:
    assert pyrus_task_url(12) == "https://pyrus.com/t#id12"
    assert (
        pyrus_task_url("pyrus:12", "https://pyrus.corp.ru/t#id") == "https://pyrus.corp.ru/t#id12"
    )
