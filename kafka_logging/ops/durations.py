"""Durations as operators write them: 90s, 15m, 2h, 7d, 4w."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_duration(text: str) -> timedelta:
    """'7d' -> 7 days. ValueError naming the accepted forms otherwise."""
    match = _RE.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration: use a number and a unit, like 90s, 15m, 2h, 7d, 4w"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
