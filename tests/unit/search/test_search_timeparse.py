"""Times typed on the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kafka_logging.search.timeparse import parse_duration, parse_time, to_iso

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "back"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 2H ", timedelta(hours=2)),
    ],
)
def test_relative_times_count_back_from_now(text: str, back: timedelta) -> None:
    """A duration means that long before now."""
    assert parse_time(text, NOW) == NOW - back


def test_iso_time_with_offset_is_kept() -> None:
    """An ISO 8601 time with an offset is that instant."""
    parsed = parse_time("2026-11-22T10:00:00+02:00", NOW)
    assert parsed == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def test_iso_time_with_z_suffix() -> None:
    """The `Z` form our own @timestamp uses is accepted."""
    assert parse_time("2026-11-22T04:31:00.123456Z", NOW) == datetime(
        2026, 11, 22, 4, 31, 0, 123456, tzinfo=UTC
    )


def test_naive_iso_time_is_utc() -> None:
    """Without an offset, an ISO time is read as UTC (records are stamped in UTC)."""
    assert parse_time("2026-11-22T10:00", NOW) == datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    assert parse_time("2026-11-21", NOW) == datetime(2026, 11, 21, tzinfo=UTC)


def test_now_is_now() -> None:
    """`now` is the injected clock's time."""
    assert parse_time("now", NOW) is NOW


@pytest.mark.parametrize("text", ["yesterday", "15", "m15", "2h-", "", "2026-13-01"])
def test_garbage_names_the_text_and_the_forms(text: str) -> None:
    """Anything else is a ValueError that quotes the input and shows the accepted forms."""
    with pytest.raises(ValueError, match="is not a time: use a duration") as info:
        parse_time(text, NOW)
    assert repr(text) in str(info.value)


def test_parse_duration_rejects_non_durations() -> None:
    """parse_duration answers None for an ISO time, so callers can try both."""
    assert parse_duration("2026-11-22") is None
    assert parse_duration("90s") == timedelta(seconds=90)


def test_to_iso_is_the_timestamp_form() -> None:
    """Any aware time prints as UTC with microseconds and Z, like @timestamp."""
    moment = datetime(2026, 11, 22, 6, 0, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    assert to_iso(moment) == "2026-11-22T04:00:00.000005Z"


def test_duration_beyond_the_calendar_is_a_value_error() -> None:
    """A duration reaching before year 1 is a ValueError, not an OverflowError."""
    with pytest.raises(ValueError, match="too far back"):
        parse_time("99999999d", NOW)
