"""The subset of CQL the KB ETL uses, evaluated against as-of page views.

Supported: clauses joined by `and`; fields `space`, `type`, `id`, `ancestor`, `label`
with `=`, `!=`, `in (…)`, `not in (…)`; `lastmodified` / `created` with `= != > >= < <=`
and the literals `"yyyy-MM-dd HH:mm"`, `"yyyy/MM/dd HH:mm"`, `"yyyy-MM-dd"`,
`"yyyy/MM/dd"` read in the server's time zone (minute precision, no seconds);
`order by lastmodified|created|id|title [asc|desc]`. Anything else is a 400, as on a
real server, so an unsupported query fails loudly instead of returning everything.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sample_data.emulators.dataset import parse_ts

_TOKEN = re.compile(
    r'\s*(?:"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|(>=|<=|!=|=|>|<|\(|\)|,)|([^\s=!<>(),"\']+))'
)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d")
_SET_FIELDS = {"space", "type", "id", "ancestor", "label"}
_DATE_FIELDS = {"lastmodified", "created"}


class CqlError(ValueError):
    """The query cannot be parsed or uses something the emulator does not support."""


@dataclass
class Token:
    text: str
    quoted: bool = False


def _tokenize(cql: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(cql):
        if cql[position:].strip() == "":
            break
        match = _TOKEN.match(cql, position)
        if not match:
            raise CqlError(f"Could not parse cql : {cql}")
        double, single, symbol, word = match.groups()
        if double is not None or single is not None:
            tokens.append(Token(double if double is not None else single, quoted=True))
        else:
            tokens.append(Token(symbol or word))
        position = match.end()
    return tokens


def parse_cql_date(text: str, tz: timezone) -> datetime:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    raise CqlError(f'Could not parse cql date {text!r}: use "yyyy-MM-dd HH:mm"')


@dataclass
class Query:
    """A parsed CQL query: predicates over a page view and an ordering."""

    predicates: list[Callable[[dict[str, Any]], bool]] = field(default_factory=list)
    order_field: str | None = None
    descending: bool = False

    def matches(self, view: dict[str, Any]) -> bool:
        return all(predicate(view) for predicate in self.predicates)

    def sort(self, views: list[dict[str, Any]]) -> list[dict[str, Any]]:
        keys = {
            "lastmodified": lambda v: parse_ts(v["version"]["when"]),
            "created": lambda v: parse_ts(v["first_version"]["when"]),
            "id": lambda v: int(v["id"]),
            "title": lambda v: v["version"]["title"],
        }
        key = keys.get(self.order_field or "id", keys["id"])
        return sorted(views, key=lambda v: (key(v), int(v["id"])), reverse=self.descending)


def _field_values(view: dict[str, Any], name: str) -> set[str]:
    if name == "space":
        return {view["space_key"].lower()}
    if name == "type":
        return {"page"}
    if name == "id":
        return {str(view["id"])}
    if name == "ancestor":
        return {str(a["id"]) for a in view.get("ancestors", [])}
    return {label.lower() for label in view.get("labels", [])}


def _set_predicate(name: str, values: set[str], negate: bool) -> Callable[[dict[str, Any]], bool]:
    wanted = {v.lower() for v in values}
    return lambda view: bool(_field_values(view, name) & wanted) != negate


def _date_predicate(name: str, op: str, bound: datetime) -> Callable[[dict[str, Any]], bool]:
    compare = _COMPARE[op]

    def predicate(view: dict[str, Any]) -> bool:
        version = view["version"] if name == "lastmodified" else view["first_version"]
        return compare(parse_ts(version["when"]), bound)

    return predicate


def parse_cql(cql: str, tz: timezone = timezone(timedelta(hours=3))) -> Query:
    """Parse `cql`; raise `CqlError` on anything outside the supported subset."""
    tokens = _tokenize(cql)
    query = Query()
    index = 0

    def take() -> Token:
        nonlocal index
        if index >= len(tokens):
            raise CqlError(f"Could not parse cql : {cql} (unexpected end)")
        index += 1
        return tokens[index - 1]

    def peek(word: str) -> bool:
        return (
            index < len(tokens) and not tokens[index].quoted and tokens[index].text.lower() == word
        )

    while index < len(tokens):
        if peek("order"):
            take()
            if take().text.lower() != "by":
                raise CqlError(f"Could not parse cql : {cql} (expected 'order by')")
            query.order_field = take().text.lower()
            if query.order_field not in {"lastmodified", "created", "id", "title"}:
                raise CqlError(f"unsupported order by field {query.order_field!r}")
            if peek("asc") or peek("desc"):
                query.descending = take().text.lower() == "desc"
            if index < len(tokens):
                raise CqlError(f"Could not parse cql : {cql} (text after order by)")
            break
        name = take().text.lower()
        op_token = take()
        op = op_token.text.lower()
        negate = False
        if op == "not" and peek("in"):
            take()
            op, negate = "in", True
        if name in _SET_FIELDS:
            if op == "in":
                if take().text != "(":
                    raise CqlError(f"Could not parse cql : {cql} (expected '(')")
                values: set[str] = set()
                while True:
                    values.add(take().text)
                    separator = take().text
                    if separator == ")":
                        break
                    if separator != ",":
                        raise CqlError(f"Could not parse cql : {cql} (expected ',' or ')')")
            elif op in {"=", "!="}:
                values, negate = {take().text}, op == "!="
            else:
                raise CqlError(f"operator {op!r} is not supported for field {name!r}")
            query.predicates.append(_set_predicate(name, values, negate))
        elif name in _DATE_FIELDS and op in _COMPARE:
            literal = take()
            if not literal.quoted:
                raise CqlError(f"date functions are not supported by the emulator: {literal.text}")
            query.predicates.append(_date_predicate(name, op, parse_cql_date(literal.text, tz)))
        else:
            raise CqlError(f"unsupported CQL clause: {name} {op}")
        if index < len(tokens) and peek("and"):
            take()
        elif index < len(tokens) and not peek("order"):
            raise CqlError(f"only 'and' between clauses is supported: {cql}")
    return query
