"""The masking rules: which personal data becomes which `[kind]` placeholder, and how.

The query the bot builds from a ticket is sent to the organisation's LLM and stored in
the suggestion log, so customer identifiers (emails, phones, card and bank account
numbers, contract numbers, Russian identity documents — passport, SNILS, INN, OMS policy,
driver licence —, passwords, PINs and SMS codes, dates of birth, street addresses,
tokens and keys) are replaced by typed placeholders such as `[email]`. The masking is
regex-based and deliberately greedy: losing a digit sequence from a query costs little,
leaking a passport number costs a lot. Two checks keep it from eating ordinary numbers:
a bare 11-digit run is a SNILS only when its control sum holds, and a bare 20-digit run
is the only long number taken for a bank account without a keyword.

The organisation's own contacts are not personal data: `PublicContacts`
(`assistant/masking/public.py`) are set aside before the rules run and put back after.

The dbt macro `mask_pii` (dbt_project/macros/mask_pii.sql) applies the same rules in
Postgres; both are tested against one case file, `tests/mask_cases.yaml`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class PublicContacts(Protocol):
    """What masking needs of the organisation's contacts (`masking.public.PublicContacts`):
    set them aside before the rules run. A protocol, so `public` (which reads the rules'
    patterns) and the rules do not import each other."""

    def shelve(self, text: str) -> tuple[str, Callable[[str], str]]: ...


def snils_checksum_ok(digits: str) -> bool:
    """The SNILS control number (the last two digits) agrees with the first nine.

    Each of the first nine digits is weighted 9..1; a sum below 100 is the control number,
    100 and 101 give 00, a larger sum is taken mod 101 (100 again giving 00). Numbers up
    to 001-001-998 were issued before the control sum existed and are never checked: they
    are not taken for a SNILS without the word.
    """
    if len(digits) != 11 or not digits.isdigit() or int(digits[:9]) <= 1_001_998:
        return False
    total = sum(int(d) * (9 - i) for i, d in enumerate(digits[:9]))
    control = total if total < 100 else total % 101
    return (0 if control == 100 else control) == int(digits[9:])


@dataclass(frozen=True)
class Rule:
    """One pattern and its placeholder.

    A named group `keep` survives in front of the placeholder («пароль: [password]»): the
    keyword tells the reader and retrieval what was there. `check` vetoes a match (the
    text stays) — the SNILS control sum.
    """

    kind: str
    pattern: re.Pattern[str]
    check: Callable[[str], bool] | None = None


def _digits_check(check: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda text: check(re.sub(r"\D", "", text))


# Order matters: secrets and dated/keyworded forms first, longer and more specific
# patterns before shorter ones, so a card number is not half-eaten by the phone pattern,
# an account by the card pattern, a URL token not taken for a contract.
_NUM = r"(?:№|n|no\.?|номер[а-яё]*|ном\.)?"  # an optional "number" word between parts
_SERIES = r"(?:сери[яиюей])"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
PHONES = (
    re.compile(r"(?<![\w+])(?:\+7|8|7)?[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}(?!\d)"),
    re.compile(r"(?<![\w+])\+\d[\d\s()-]{8,16}\d(?!\d)"),
)
RULES: list[Rule] = [
    # Passwords: a value after «пароль:», «password=» (any non-space), or after the bare
    # word when the value has a digit («пароль Qwerty123»; «пароль не подходит» stays).
    # Keys and secrets written as `name: value` («security_key=…», «API key: …»).
    Rule(
        "token",
        re.compile(
            r"(?i)(?P<keep>(?:\bapi[ _-]?(?:key|ключ)|\bsecret|\bключ(?:\s+api)?|security_key"
            r"|access_token)\s*[:=]\s*)[^\s,;<\"']+"
        ),
    ),
    Rule(
        "password",
        re.compile(
            r"(?i)(?P<keep>\b(?:пароль|password|passwd|pwd|pass)\b"
            r"(?:\s+(?:от|для)\s+[\w.@-]+)?\s*[:=]\s*)[^\s,;<\"']+"
        ),
    ),
    Rule(
        "password",
        re.compile(
            r"(?i)(?P<keep>\b(?:пароль|password)\s+(?:это\s+|был\s+|такой\s+)?)"
            r"(?=[^\s,;<\"']*\d)[^\s,;<\"']{4,}"
        ),
    ),
    # PINs, CVC and one-time codes: «ПИН-код 4821», «CVC: 123», «код из смс 1234».
    Rule(
        "code",
        re.compile(
            r"(?i)(?P<keep>(?:\bпин(?:-?код[а-яё]*)?\b|\bpin(?:[\s-]?code)?\b|\bcvc2?\b|\bcvv2?\b|\bcvn\b"
            r"|\bкод[а-яё]*\s+(?:из|в|по)\s+(?:смс|sms|сообщени[а-яё]*)"
            r"|\b(?:смс|sms)[\s-]?код[а-яё]*|\bкод[а-яё]*\s+подтверждени[а-яё]*"
            r"|\bодноразов[а-яё]*\s+(?:код|пароль)[а-яё]*)"
            r"(?:\s*[:=—-])?\s*(?:был[аио]?\s+|это\s+)?)\d{3,8}(?!\d)"
        ),
    ),
    # Date of birth: «дата рождения 12.03.1985», «д.р.: 12 марта 1985 г.», «1985 г.р.».
    Rule(
        "birth_date",
        re.compile(
            r"(?i)(?P<keep>(?:дат[а-яё]*\s+рождения|\bд\.\s?р\.|родил(?:ся|ась)|date\s+of\s+birth"
            r"|\bdob\b)\s*[:—-]?\s*)(?:\d{1,2}[./-]\d{1,2}[./-]\d{2,4}"
            r"|\d{1,2}\s+[а-яё]+\s+\d{4}(?:\s*г(?:ода|\.)?)?|\d{4}(?:\s*г(?:ода|\.)?)?)"
        ),
    ),
    Rule(
        "birth_date",
        re.compile(r"(?i)(?<!\d)(?:\d{1,2}[./]\d{1,2}[./])?\d{4}\s*г\.\s?р\.?"),
    ),
    # Street address: a street word, a name, a house number, then building / flat.
    Rule(
        "address",
        re.compile(
            r"(?i)(?:\b\d{6},?\s*)?(?:(?:\bг\.|\bгород)\s*[А-ЯЁ][а-яё-]+,?\s*)?"
            r"(?:\bул\.|\bулица|\bпр-т|\bпросп\.|\bпроспект|\bпер\.|\bпереулок|\bш\.|\bшоссе"
            r"|\bб-р|\bбульвар|\bнаб\.|\bнабережная|\bпл\.|\bплощадь|\bмкр\.?|\bмикрорайон)"
            r"\s*[А-Яа-яЁёA-Za-z0-9][\w .-]{0,40}?,?\s*(?:\bд\.|\bдом)\s*\d+[а-я]?"
            r"(?:\s*[,/]?\s*(?:корп\.|корпус|\bк\.|стр\.|строение)\s*\d+)?"
            r"(?:\s*,?\s*(?:кв\.|квартира|оф\.|офис)\s*\d+)?"
        ),
    ),
    # Driver licence: «ВУ 77 12 345678», «водительское удостоверение 99 АА 123456».
    Rule(
        "driver_licence",
        re.compile(
            r"(?i)(?:водительск[а-яё]*\s+удостоверени[а-яё]*|водительск[а-яё]*\s+прав[а-яё]*"
            r"|\bв/у|\bву\b)\s*[:.]?\s*(?:серия\s*)?"
            rf"\d{{2}}\s?(?:\d{{2}}|[А-ЯЁA-Z]{{2}})\s*{_NUM}\s*[:.]?\s*\d{{6}}(?!\d)"
        ),
    ),
    # OMS policy: 16 digits (or a series and number) after «полис»/«ОМС».
    Rule(
        "oms",
        re.compile(
            r"(?i)(?:полис[а-яё]*(?:\s+омс)?|\bомс\b)\s*[:№]?\s*(?:серия\s*)?"
            r"(?:[А-ЯЁA-Z]{2,4}\s*)?\d[\d\s№-]{4,22}\d"
        ),
    ),
    # Bank accounts: 20 digits after «р/с», «к/с», «л/с», «счёт»; a bare 20-digit run too.
    Rule(
        "account",
        re.compile(
            r"(?i)(?P<keep>(?:\bр/с|\bр/сч|\bк/с|\bк/сч|\bл/с|расч[её]тн[а-яё]*\s+сч[её]т[а-яё]*"
            r"|корр?(?:\.|еспондентск[а-яё]*)\s*сч[её]т[а-яё]*|лицев[а-яё]*\s+сч[её]т[а-яё]*"
            r"|\bсч[её]т[а-яё]*)\s*[:№]?\s*)(?:\d[ ]?){19}\d(?!\d)"
        ),
    ),
    Rule("account", re.compile(r"(?<![\d-])\d{20}(?![\d-])")),
    # SNILS: «123-456-789 01» (11 digits), with or without the word; bare 11 digits
    # (or 3-3-3-2 with spaces) only when the control sum holds.
    Rule("snils", re.compile(r"(?i)снилс[а-яё]*\s*[:№]?\s*\d{3}[\s-]?\d{3}[\s-]?\d{3}[\s-]?\d{2}")),
    Rule("snils", re.compile(r"(?<![\d-])\d{3}-\d{3}-\d{3}[\s-]\d{2}(?![\d-])")),
    Rule(
        "snils",
        re.compile(r"(?<![\d+-])\d{3} ?\d{3} ?\d{3} ?\d{2}(?![\d-])"),
        check=_digits_check(snils_checksum_ok),
    ),
    # INN: 10 (company) or 12 (person) digits after «ИНН»; a bare 12-digit run too.
    Rule("inn", re.compile(r"(?i)\bинн(?:/кпп)?\s*[:№]?\s*\d{10}(?:\d{2})?(?:\s*/\s*\d{9})?")),
    Rule("inn", re.compile(r"(?<!\d)\d{12}(?!\d)")),
    # Passport: «паспорт 4510 123456», «паспорт серии 4510 номер 987321», «серия 45 10
    # номер 654321», «паспорт РФ: 45 11 № 223344», «паспортные данные 4510 987321».
    Rule(
        "passport",
        re.compile(
            rf"(?i)(?:паспорт[а-яё]*(?:\s+(?:рф|данные|гражданина\s+рф))?|{_SERIES})\s*[:.]?\s*"
            rf"(?:{_SERIES}\s*)?[:.]?\s*\d{{2}}\s?\d{{2}}\s*[,;]?\s*{_NUM}\s*[:.]?\s*\d{{6}}(?!\d)"
        ),
    ),
    Rule("passport", re.compile(r"(?<![\d-])\d{2}\s?\d{2}\s+№?\s*\d{6}(?![\d-])")),
    Rule("email", EMAIL),
    Rule(
        "token",
        re.compile(
            r"\b(?:eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]{5,}"  # JWT
            r"|(?:sk|pk|rk|ghp|gho|xox[abp])[-_][\w-]{12,}"  # API-key prefixes
            r"|Bearer\s+[\w.~+/=-]{12,}"
            r"|[A-Fa-f0-9]{32,}"  # long hex (secrets, hashes)
            r"|(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{32,})"
        ),
    ),
    Rule("card", re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")),
    Rule(
        "contract",
        re.compile(
            r"(?i)(?P<keep>(?:договор[а-яё]*|контракт[а-яё]*|счет[а-яё]*|счёт[а-яё]*|заказ[а-яё]*"
            r"|contract|invoice|order))\s*(?:№|#|n|no\.?|номер)?\s*[:.]?\s*"
            r"[A-Za-zА-Яа-яЁё0-9]*\d[A-Za-zА-Яа-яЁё0-9/_-]*"
        ),
    ),
    Rule("contract", re.compile(r"№\s*[A-Za-zА-Яа-яЁё0-9/_-]*\d[A-Za-zА-Яа-яЁё0-9/_-]*")),
    *(Rule("phone", pattern) for pattern in PHONES),
]
KINDS = tuple(dict.fromkeys(rule.kind for rule in RULES))
PLACEHOLDER = re.compile(r"\[(" + "|".join(KINDS) + r"|name|contact)\]")


@dataclass(frozen=True)
class Redaction:
    """The masked text and how many items of each kind were replaced."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)


def _apply(rule: Rule, text: str, counts: dict[str, int]) -> str:
    def _replace(match: re.Match[str]) -> str:
        if rule.check is not None and not rule.check(match.group(0)):
            return match.group(0)
        counts[rule.kind] = counts.get(rule.kind, 0) + 1
        keep = match.groupdict().get("keep")
        if keep is None:
            return f"[{rule.kind}]"
        if rule.kind == "contract":  # «договору [contract]»: the keyword helps retrieval
            return f"{keep.rstrip()} [{rule.kind}]"
        return f"{keep}[{rule.kind}]"

    return rule.pattern.sub(_replace, text)


def redact_with_counts(text: str, public: PublicContacts | None = None) -> Redaction:
    """Replace personal data with `[kind]` placeholders and count the replacements.

    `public`: the organisation's own contacts, kept as they are.
    """
    counts: dict[str, int] = {}
    shelved, restore = public.shelve(text) if public is not None else (text, None)
    result = shelved
    for rule in RULES:
        result = _apply(rule, result, counts)
    return Redaction(text=restore(result) if restore else result, counts=counts)


def redact(text: str, public: PublicContacts | None = None) -> str:
    """The masked text only."""
    return redact_with_counts(text, public).text


def placeholders(text: str) -> list[str]:
    """The placeholders a masked text holds (`[email]`, `[phone]`…), in order."""
    return [match.group(0) for match in PLACEHOLDER.finditer(text)]
