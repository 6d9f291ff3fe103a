"""Which sentences are written for the support team and must never reach a customer.

Knowledge-base pages are written for engineers: they quote customers («Клиент пишет:
…»), speak about the customer in the third person («Объясните клиенту…»), point to
other internal pages («см. …») and tickets (#201534789), and carry internal-only
sections («Внутренняя заметка», «Как передать запрос»). Such text is fine in the steps
for the engineer and wrong in a draft addressed to the customer.

The decision is per sentence, by rules written for general Russian support phrasing
(not for one knowledge base): a rule that misfires drops a sentence from the draft,
which costs less than a leak, so the rules lean towards dropping. Each rule has a name
so `kb eval answers` can show why a sentence counted as a leak.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# The customer in the third person: any case of «клиент»/«клиентка», «заказчик»,
# «пользователь клиента». «клиентский»/«клиентское приложение» stays allowed.
_THIRD_PERSON = re.compile(
    r"(?<![а-яё])(?:клиент(?:а|у|ом|е|ы|ов|ам|ами|ах|ка|ки|ке|ку|кой)?|заказчик(?:а|у|ом|и)?)"
    r"(?![а-яё])",
    re.IGNORECASE,
)
# Someone quoted: «бухгалтерия пишет: «…»», «жалуются, что…» — a description of a case.
_QUOTING = re.compile(
    r"(?:пиш(?:ет|ут)|жалу(?:ется|ются)|спрашива(?:ет|ют)|сообща(?:ет|ют)|обраща(?:ется|ются))"
    r"\s*[:—-]?\s*[«\"]",
    re.IGNORECASE,
)
_SEE_ALSO = re.compile(r"(?<![а-яё])(?:см\.|смотри(?:те)? статью|подробнее в статье)", re.I)
_TICKET_REF = re.compile(r"(?:#\s?\d{5,}|\bзадач[аеиу]\s+№?\s?\d{5,}|\[S\d+\])", re.IGNORECASE)
_INTERNAL_LINK = re.compile(
    r"https?://\S*(?:confluence|wiki|/display/|/pages/|pyrus\.com/t#|jira|atlassian)\S*"
    r"|\b(?:confluence|jira)\b",
    re.IGNORECASE,
)
# Work instructions for the team: routing, labels, escalation, internal notes.
_INTERNAL_WORK = re.compile(
    r"(?:внутренн\w*\s+(?:комментари|заметк|порядок|регламент|чат|канал)\w*"
    r"|втор\w*\s+лини\w*|эскалир\w*|передайте\s+(?:вопрос|запрос|заявку|обращение)"
    r"|передавайте|поставьте\s+(?:в\s+обращении\s+)?(?:категори|метк)\w*|назначьте\s+обращение"
    r"|тестов\w+\s+организаци\w*|для\s+сотрудник\w+\s+поддержк\w*|служб\w*\s+поддержк\w*\s+"
    r"(?:должн|нужно)\w*)",
    re.IGNORECASE,
)

RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("third_person_customer", _THIRD_PERSON),
    ("quotes_a_customer", _QUOTING),
    ("see_also_reference", _SEE_ALSO),
    ("ticket_reference", _TICKET_REF),
    ("internal_link", _INTERNAL_LINK),
    ("internal_work", _INTERNAL_WORK),
)

# Section headings whose whole content is for the team.
_INTERNAL_SECTION = re.compile(
    r"(?:внутренн|для\s+сотрудник|для\s+поддержк|только\s+для|служебн|не\s+для\s+клиент"
    r"|заметк|симптом|кто\s+отвечает|как\s+передать|статьи\s+раздела|см\.\s|связанн)",
    re.IGNORECASE,
)

_SENTENCE_SPLIT = re.compile(r"(?<![Сс]м\.)(?<=[.!?…])\s+(?=[«\"(]?[А-ЯЁA-Z0-9])|\n+")


def split_sentences(text: str) -> list[str]:
    """Sentences and list items of a text, in order (list items stay whole)."""
    return [part.strip() for part in _SENTENCE_SPLIT.split(text or "") if part.strip()]


_QUOTED_NAME = re.compile(r"«[^«»]{1,80}»")


def staff_rule(sentence: str) -> str | None:
    """The name of the first rule that marks `sentence` as staff-facing, else None.

    «клиент» inside «…» is a name (a form «Заказ клиента», a field), not the customer in
    the third person; a quote after «пишет:» is still caught by `quotes_a_customer`.
    """
    for name, pattern in RULES:
        text = sentence or ""
        if name == "third_person_customer":
            text = _QUOTED_NAME.sub("«»", text)
        if pattern.search(text):
            return name
    return None


def is_staff_text(sentence: str) -> bool:
    """True when the sentence is written for the support team, not for the customer."""
    return staff_rule(sentence) is not None


def is_internal_section(heading: str) -> bool:
    """True for section headings whose content is internal-only («Внутренняя заметка»…)."""
    return bool(_INTERNAL_SECTION.search(heading or ""))


_LIST_MARKER = re.compile(r"^\s*(?:(\d{1,2})[.)]|[-•*—])\s+")


def customer_safe(text: str) -> str:
    """`text` without its staff-facing sentences; list items whose text is all staff-facing
    disappear and the remaining numbered items are renumbered."""
    kept_lines = []
    number = 0
    for line in (text or "").splitlines():
        marker = _LIST_MARKER.match(line)
        content = line[marker.end() :] if marker else line
        kept = [s for s in split_sentences(content) if not is_staff_text(s)]
        if not kept:
            continue
        body = " ".join(kept)
        if marker and marker.group(1):
            number += 1
            body = f"{number}. {body}"
        elif marker:
            body = f"- {body}"
        kept_lines.append(body)
    return "\n".join(kept_lines).strip()


def leaks(text: str) -> list[tuple[str, str]]:
    """(rule, sentence) for every staff-facing sentence in a customer draft."""
    found = []
    for sentence in split_sentences(text):
        rule = staff_rule(sentence)
        if rule is not None:
            found.append((rule, sentence))
    return found


def first_leak(texts: Iterable[str]) -> tuple[str, str] | None:
    """The first (rule, sentence) leak among `texts`, for short reports."""
    for text in texts:
        found = leaks(text)
        if found:
            return found[0]
    return None
