"""Which daily indices retention deletes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kafka_logging.ops.durations import parse_duration
from kafka_logging.ops.prune import IndexPattern, expired

DAILY = IndexPattern("application-logs-%Y.%m.%d")
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_glob_covers_every_daily_index() -> None:
    """The strftime pattern becomes the wildcard Elasticsearch understands."""
    assert DAILY.glob() == "application-logs-*"


def test_index_older_than_cutoff_is_expired_and_newer_is_kept() -> None:
    """With 30d, the day that ended 31 days ago goes; the one ending within 30 days stays."""
    names = [
        "application-logs-2026.10.21",
        "application-logs-2026.10.23",
        "application-logs-2026.11.22",
    ]
    assert expired(names, DAILY, timedelta(days=30), NOW) == ["application-logs-2026.10.21"]


def test_a_day_is_kept_until_its_whole_period_has_passed() -> None:
    """An index is deleted only once its last record is older than the cutoff."""
    assert expired(["application-logs-2026.10.23"], DAILY, timedelta(days=30), NOW) == []
    later = NOW + timedelta(hours=12)
    assert expired(["application-logs-2026.10.23"], DAILY, timedelta(days=30), later) == [
        "application-logs-2026.10.23"
    ]


def test_names_not_made_by_the_pattern_are_never_deleted() -> None:
    """Indices that merely share the prefix are left alone."""
    names = [
        "application-logs-archive",
        "application-logs-2026.13.01",
        "application-logs-2020.01.01-x",
    ]
    assert expired(names, DAILY, timedelta(days=1), NOW) == []


def test_expired_are_listed_oldest_first() -> None:
    names = [
        "application-logs-2026.01.02",
        "application-logs-2025.12.31",
        "application-logs-2026.01.01",
    ]
    assert expired(names, DAILY, timedelta(days=1), NOW) == sorted(names)


@pytest.mark.parametrize(
    ("text", "delta"),
    [("90s", timedelta(seconds=90)), ("7d", timedelta(days=7)), ("2w", timedelta(weeks=2))],
)
def test_durations_parse(text: str, delta: timedelta) -> None:
    assert parse_duration(text) == delta


def test_bad_duration_names_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match=r"'30 days' is not a duration: use a number and a unit"):
        parse_duration("30 days")
