"""Check the LLM's reply before anything of it reaches a comment: nothing private out.

The LLM sees only masked text, yet its reply is still untrusted: a ticket can carry an
injection, and a model can invent. Once the reply parsed and cited a given source
(`assistant/bot/suggest.py`), it is reviewed here:

* personal data is masked again (`assistant.redact`, the organisation's public contacts
  kept). In the engineer's steps the placeholder is enough; a draft for the customer
  that needed masking fails (a «[phone]» in a customer reply is no answer);
* every link must be one of the sources the LLM was given, or on a domain of the
  configured allow-list (`LLM_LINK_ALLOW_LIST`) or one of the organisation's own
  (`PublicContacts.domains`) — a phishing link fails the reply;
* a request for a card number, CVC, PIN, password or SMS code fails the reply (a
  warning never to share them — «не сообщайте никому код» — is fine).

A failed reply is replaced by the retrieval-only suggestion with fallback reason
`llm_unsafe` and the problem in `llm_error` (docs/privacy.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from assistant.llm.client import LLMReply
from assistant.redact import PublicContacts, redact_with_counts

# A link: with a scheme, with «www.», or a bare host on a common top-level domain.
_URL = re.compile(
    r"(?i)\b(?:https?://[^\s<>«»\"'()]+|www\.[^\s<>«»\"'()]+"
    r"|(?<![@\w.-])(?:[a-z0-9-]+\.)+(?:ru|su|com|net|org|info|io|me|biz|pro|online|site|xyz"
    r"|top|app|dev|рф)(?:/[^\s<>«»\"'()]*)?(?![\w-]))"
)
_SECRET = (
    r"(?:номер\w*\s+(?:\w+\s+){0,2}карт\w*|данн\w+\s+(?:\w+\s+)?карт\w*|cvc2?|cvv2?|cvn"
    r"|код\w*\s+с\s+обратной\s+стороны|трёхзначн\w+\s+код\w*|трехзначн\w+\s+код\w*"
    r"|срок\w*\s+действия\s+карт\w*|пин-?код\w*|\bпин\b|парол\w*|код\w*\s+из\s+(?:смс|sms)"
    r"|(?:смс|sms)-?\s?код\w*|код\w*\s+подтверждени\w*|одноразов\w+\s+(?:код|пароль)\w*"
    r"|секретн\w+\s+(?:слов|вопрос)\w*|card\s+number|password|one-time\s+code)"
)
# A request to send one: «сообщите номер карты», «пришлите код из СМС», «send your
# password». Only filler words may stand between the verb and the secret, so «напишите,
# если не получится сбросить пароль» is no request.
_FILLER = (
    r"(?:[\s,]+(?:нам|мне|сюда|пожалуйста|в\s+ответ\w*|в\s+чат\w*|ответом|please|us|me))*"
    r"[\s,]+(?:(?:ваш\w*|сво[йиюеёя]\w*|текущ\w*|your|the)\s+)?"
)
_ASKS_FOR_SECRET = re.compile(
    r"(?i)\b(?P<verb>сообщите|сообщи|пришлите|присылайте|отправьте|отправь|назовите|продиктуйте"
    r"|напишите|скиньте|скинь|предоставьте|перешлите|укажите\s+в\s+ответ\w*|send|provide|tell"
    r"|share)\b" + _FILLER + _SECRET
)
_NEGATION = re.compile(r"(?i)(?:\bне|\bникому|\bникогда|\bnever|\bdon't|\bdo\s+not)\s+\S*\s*$")


SOFT_KINDS = frozenset({"contract"})
"""Masked in place rather than failing the draft: «заявка №…» is greedy-matched as a
contract number, and a masked one still reads."""


@dataclass(frozen=True)
class Review:
    """The reply with its steps masked again, or the problem that fails it."""

    reply: LLMReply
    problem: str | None = None


def _strip_url(url: str) -> str:
    return url.rstrip(".,;:!?»)").rstrip("/").lower()


def _host(url: str) -> str:
    parsed = urlsplit(url if "://" in url else f"http://{url}")
    return (parsed.hostname or "").lower().removeprefix("www.")


def foreign_links(text: str, sources: Iterable[str], allowed_domains: Iterable[str]) -> list[str]:
    """Links in the text that are neither a given source nor on an allowed domain."""
    given = {_strip_url(url) for url in sources if url}
    domains = {d.strip().lower().lstrip("@.").removeprefix("www.") for d in allowed_domains}
    domains.discard("")
    foreign = []
    for match in _URL.finditer(text):
        url = _strip_url(match.group(0))
        host = _host(url)
        if url in given or any(host == d or host.endswith("." + d) for d in domains):
            continue
        foreign.append(match.group(0).rstrip(".,;:!?»)"))
    return foreign


def asks_for_secret(text: str) -> str | None:
    """The phrase that asks the customer for a card number, CVC, password or code."""
    for match in _ASKS_FOR_SECRET.finditer(text):
        before = text[max(0, match.start() - 25) : match.start()]
        if not _NEGATION.search(before):
            return match.group(0)
    return None


@dataclass(frozen=True)
class OutputGuard:
    """The review's configuration: the organisation's contacts and the link allow-list."""

    public: PublicContacts | None = None
    link_domains: frozenset[str] = frozenset()

    def review(self, reply: LLMReply, source_urls: Sequence[str]) -> Review:
        """The reply made safe (steps re-masked), or the first problem found in it."""
        texts = [*reply.recommendation_steps, reply.draft_reply]
        domains = self.link_domains | (self.public.domains if self.public else frozenset())
        for text in texts:
            links = foreign_links(text, source_urls, domains)
            if links:
                return Review(reply, f"unsafe: a link not among the sources: {links[0][:100]}")
            request = asks_for_secret(text)
            if request:
                return Review(reply, f"unsafe: asks the customer for a secret: {request[:100]}")
        draft = redact_with_counts(reply.draft_reply, self.public)
        personal = sorted(set(draft.counts) - SOFT_KINDS)
        if personal:
            return Review(reply, f"unsafe: personal data in the draft ({', '.join(personal)})")
        steps = [redact_with_counts(step, self.public).text for step in reply.recommendation_steps]
        return Review(
            reply.model_copy(update={"recommendation_steps": steps, "draft_reply": draft.text})
        )
