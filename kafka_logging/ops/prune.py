"""Retention by deleting whole daily indices whose day is older than a cutoff."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kafka_logging.engines.client import EngineClient

_FIELDS = {"%Y": r"\d{4}", "%m": r"\d{2}", "%d": r"\d{2}", "%H": r"\d{2}"}
_PERIOD = {"%H": timedelta(hours=1), "%d": timedelta(days=1), "%m": timedelta(days=31)}


@dataclass(frozen=True)
class IndexPattern:
    """An strftime pattern for index names (application-logs-%Y.%m.%d) and its inverse."""

    pattern: str

    def glob(self) -> str:
        """The wildcard of every index the pattern makes (as the indexer's template uses)."""
        return self.pattern.split("%", 1)[0] + "*"

    def _regex(self) -> re.Pattern[str]:
        parts = re.split(r"(%[YmdH])", self.pattern)
        body = "".join(f"({_FIELDS[p]})" if p in _FIELDS else re.escape(p) for p in parts if p)
        return re.compile(f"^{body}$")

    def period(self) -> timedelta:
        """How long one index covers: the finest time field in the pattern."""
        for token in ("%H", "%d", "%m"):
            if token in self.pattern:
                return _PERIOD[token]
        return timedelta(days=366)

    def start_of(self, index: str) -> datetime | None:
        """The start of the period an index name covers, or None if the name is not ours."""
        if self._regex().match(index) is None:
            return None
        try:
            return datetime.strptime(index, self.pattern).replace(tzinfo=UTC)
        except ValueError:
            return None


def expired(
    names: list[str], pattern: IndexPattern, older_than: timedelta, now: datetime
) -> list[str]:
    """Indices whose whole period ended before now - older_than, oldest first."""
    cutoff = now - older_than
    dated = [(pattern.start_of(n), n) for n in names]
    return [
        n
        for start, n in sorted((s, n) for s, n in dated if s is not None)
        if start + pattern.period() <= cutoff
    ]


def prune(
    client: EngineClient,
    pattern: IndexPattern,
    older_than: timedelta,
    now: datetime,
    dry_run: bool,
) -> list[str]:
    """Delete (or, with dry_run, only list) the expired indices; their names."""
    client.engine()  # an unsupported engine is refused before anything is deleted
    found = client.index_names(pattern.glob())
    victims = expired(found, pattern, older_than, now)
    if victims and not dry_run:
        for chunk in range(0, len(victims), 50):  # keep the URL short
            client.delete_indices(victims[chunk : chunk + 50])
    return victims
