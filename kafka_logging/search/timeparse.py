"""Times typed on the command line: `15m`, `2h`, `7d`, `1h30m`, `now`, or ISO 8601.

A relative time counts back from `now`. An ISO 8601 time without an offset is read as UTC,
the zone every record's `@timestamp` is written in. The result is always timezone-aware.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_UNITS = {
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_DURATION = re.compile(r"(?:\d+[smhdw])+")
_PART = re.compile(r"(\d+)([smhdw])")

HELP = (
    "a duration back from now like 30s, 15m, 2h, 7d, 1h30m, or an ISO 8601 time (UTC if no offset)"
)


def parse_duration(text: str) -> timedelta | None:
    """`1h30m` -> timedelta; None when `text` is not a duration."""
    compact = text.strip().lower()
    if not _DURATION.fullmatch(compact):
        return None
    return sum(
        (int(count) * _UNITS[unit] for count, unit in _PART.findall(compact)),
        start=timedelta(),
    )


def parse_time(text: str, now: datetime) -> datetime:
    """An aware datetime for `text`; ValueError naming the text and the accepted forms."""
    stripped = text.strip()
    if stripped.lower() == "now":
        return now
    try:
        duration = parse_duration(stripped)
        if duration is not None:
            return now - duration
    except OverflowError:
        raise ValueError(f"{text!r} is too far back") from None
    try:
        parsed = datetime.fromisoformat(stripped)
    except ValueError:
        raise ValueError(f"{text!r} is not a time: use {HELP}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_iso(moment: datetime) -> str:
    """The `@timestamp` form: UTC, microseconds, `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
