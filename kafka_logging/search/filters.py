"""The filters of `search` and `tail`, defined once: as an Elasticsearch query and as a matcher.

`Filters.es_query()` is what `search` sends; `Filters.matcher()` is the predicate `tail` (and
anything else holding decoded records) applies. Service, host and level behave the same in
both. The free-text QUERY differs by necessity:

- search: a Lucene query string (`query_string`, default field `message`, default operator AND).
- tail: whitespace-separated terms, all of which must match (quotes group words):
    `word` / `"two words"`  a case-insensitive substring of `message`;
    `field:value`           the dotted field (`log.logger:app.db`, `labels.env:prod`) equals
                            value, case-insensitively; `*` and `?` are wildcards;
    `-term`                 the term must NOT match.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kafka_logging.search.timeparse import to_iso

Record = Mapping[str, Any]
Matcher = Callable[[Record], bool]

DEFAULT_FIELD = "message"

# Lowest to highest. Each level lists the stored spellings (compared case-insensitively).
LEVELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("trace", ("trace",)),
    ("debug", ("debug",)),
    ("info", ("info", "information")),
    ("notice", ("notice",)),
    ("warning", ("warning", "warn")),
    ("error", ("error", "err")),
    ("critical", ("critical", "crit", "fatal", "alert", "emergency", "emerg")),
)
LEVEL_NAMES: tuple[str, ...] = tuple(name for name, _ in LEVELS)
_ALIASES = {alias: name for name, aliases in LEVELS for alias in aliases}

_MISSING = object()
_FIELD_TERM = re.compile(r"(?P<field>[A-Za-z_@][\w.@-]*):(?P<value>.+)", re.DOTALL)


def canonical_level(name: str) -> str:
    """`WARN` -> `warning`; ValueError for a name that is no level."""
    try:
        return _ALIASES[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown level {name!r}: use one of {', '.join(LEVEL_NAMES)}") from None


def levels_at_or_above(threshold: str) -> frozenset[str]:
    """Every stored spelling (lower-case) of `threshold` and the levels above it."""
    start = LEVEL_NAMES.index(canonical_level(threshold))
    return frozenset(alias for _, aliases in LEVELS[start:] for alias in aliases)


def field_value(record: Record, path: str) -> Any:
    """The value at dotted `path` in a nested record (a flat dotted key also counts), else None."""
    if path in record:
        return record[path]
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part, _MISSING)
        if node is _MISSING:
            return None
    return node


def _texts(value: Any) -> list[str]:
    """The values a field holds, as lower-case strings (a list field holds several)."""
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    out = []
    for item in values:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif item is not None:
            out.append(str(item).lower())
    return out


def _term_matcher(term: str) -> Matcher:
    negate = term.startswith("-") and len(term) > 1
    body = term[1:] if negate else term
    found = _FIELD_TERM.fullmatch(body)
    if found:
        path = found["field"]
        pattern = re.compile(fnmatch.translate(found["value"].lower()), re.DOTALL)

        def positive(record: Record) -> bool:
            return any(pattern.match(text) for text in _texts(field_value(record, path)))

    else:
        needle = body.lower()

        def positive(record: Record) -> bool:
            message = record.get(DEFAULT_FIELD)
            return isinstance(message, str) and needle in message.lower()

    if negate:
        return lambda record: not positive(record)
    return positive


def parse_tail_query(query: str) -> list[Matcher]:
    """One matcher per term of a tail QUERY (see the module docstring); ValueError if unparsable."""
    try:
        terms = shlex.split(query)
    except ValueError as exc:
        raise ValueError(f"cannot parse query {query!r}: {exc}") from None
    return [_term_matcher(term) for term in terms]


def _timestamp(record: Record) -> datetime | None:
    value = record.get("@timestamp")
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class Filters:
    """What a user asked to see. Empty fields do not filter."""

    query: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    services: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    level: str | None = None  # a threshold: this level and above

    def __post_init__(self) -> None:
        if self.level is not None:
            object.__setattr__(self, "level", canonical_level(self.level))
        if self.since and self.until and self.since > self.until:
            raise ValueError(f"since ({to_iso(self.since)}) is after until ({to_iso(self.until)})")

    # -- Elasticsearch ------------------------------------------------------------------------

    def es_filter_clauses(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """The non-scoring clauses; `since` overrides self.since (used by --follow)."""
        clauses: list[dict[str, Any]] = []
        lower = since if since is not None else self.since
        if lower is not None or self.until is not None:
            bounds: dict[str, Any] = {"format": "strict_date_optional_time"}
            if lower is not None:
                bounds["gte"] = to_iso(lower)
            if self.until is not None:
                bounds["lte"] = to_iso(self.until)
            clauses.append({"range": {"@timestamp": bounds}})
        if self.services:
            clauses.append(_any_term(("service.name",), self.services))
        if self.hosts:
            clauses.append(_any_term(("host.hostname", "host.name"), self.hosts))
        if self.level is not None:
            clauses.append(_any_term(("log.level",), sorted(levels_at_or_above(self.level))))
        return clauses

    def es_query(self, since: datetime | None = None) -> dict[str, Any]:
        """The `query` of a search request."""
        must: list[dict[str, Any]] = []
        if self.query:
            must.append(
                {
                    "query_string": {
                        "query": self.query,
                        "default_field": DEFAULT_FIELD,
                        "default_operator": "AND",
                    }
                }
            )
        return {"bool": {"must": must, "filter": self.es_filter_clauses(since)}}

    # -- decoded records ----------------------------------------------------------------------

    def matcher(self) -> Matcher:
        """A predicate over decoded records, built once; the tail QUERY syntax applies."""
        checks: list[Matcher] = []
        if self.since is not None or self.until is not None:
            since, until = self.since, self.until

            def in_range(record: Record) -> bool:
                moment = _timestamp(record)
                if moment is None or moment.tzinfo is None:
                    return False
                return (since is None or moment >= since) and (until is None or moment <= until)

            checks.append(in_range)
        if self.services:
            checks.append(_any_value("service.name", self.services))
        if self.hosts:
            by_hostname = _any_value("host.hostname", self.hosts)
            by_name = _any_value("host.name", self.hosts)
            checks.append(lambda record: by_hostname(record) or by_name(record))
        if self.level is not None:
            checks.append(_any_value("log.level", levels_at_or_above(self.level)))
        if self.query:
            checks.extend(parse_tail_query(self.query))
        if not checks:
            return lambda record: True
        if len(checks) == 1:
            return checks[0]
        return lambda record: all(check(record) for check in checks)


def _any_term(fields: tuple[str, ...], values: Any) -> dict[str, Any]:
    """Any of `fields` equals any of `values`, ignoring case (keyword fields)."""
    should = [
        {"term": {field: {"value": value, "case_insensitive": True}}}
        for field in fields
        for value in values
    ]
    return {"bool": {"should": should, "minimum_should_match": 1}}


def _any_value(path: str, values: Any) -> Matcher:
    wanted = frozenset(str(v).lower() for v in values)
    return lambda record: any(text in wanted for text in _texts(field_value(record, path)))
