"""Parsers: text, JSON lines merged, regex named groups, timestamps, parse errors."""

from __future__ import annotations

from shipper.config import ParserConfig
from shipper.parsers import build_parser, nest


def test_text_parser_adds_nothing() -> None:
    """Plain text: no fields, no flags."""
    assert build_parser(ParserConfig())("hello") == (None, ())


def test_json_fields_are_nested_from_dotted_keys() -> None:
    """ecs-logging style dotted keys become nested objects."""
    parse = build_parser(ParserConfig(type="json"))
    fields, flags = parse('{"log.level": "error", "message": "m", "http": {"status": 500}}')
    assert flags == ()
    assert fields == {"log": {"level": "error"}, "message": "m", "http": {"status": 500}}


def test_invalid_json_is_flagged_with_an_error_message() -> None:
    """Not JSON, or not an object: parse_error flag and error.message."""
    parse = build_parser(ParserConfig(type="json"))
    for text in ("{not json", "[1, 2]"):
        fields, flags = parse(text)
        assert flags == ("parse_error",)
        assert fields is not None
        assert fields["error"]["message"]


def test_json_timestamp_is_normalised_to_utc_microseconds() -> None:
    """@timestamp from the line, in any ISO 8601 offset, becomes our UTC form."""
    parse = build_parser(ParserConfig(type="json"))
    fields, _ = parse('{"@timestamp": "2026-01-02T03:04:05+02:00", "message": "x"}')
    assert fields is not None
    assert fields["@timestamp"] == "2026-01-02T01:04:05.000000Z"


def test_unreadable_timestamp_is_dropped_and_flagged() -> None:
    """A bad @timestamp never reaches Kafka as is: flagged, read time used instead."""
    parse = build_parser(ParserConfig(type="json"))
    fields, flags = parse('{"@timestamp": "yesterday", "message": "x"}')
    assert fields is not None
    assert "@timestamp" not in fields
    assert flags == ("timestamp_parse_error",)


def test_regex_named_groups_become_nested_fields() -> None:
    """`__` in a group name nests the field."""
    parse = build_parser(
        ParserConfig(
            type="regex",
            pattern=r"^(?P<ts>\S+ \S+) (?P<log__level>[A-Z]+) (?P<message>.*)$",
            timestamp_field="ts",
            timestamp_format="%Y-%m-%d %H:%M:%S,%f",
        )
    )
    fields, flags = parse("2026-01-02 03:04:05,123 WARN disk low")
    assert flags == ()
    assert fields == {
        "log": {"level": "WARN"},
        "message": "disk low",
        "@timestamp": "2026-01-02T03:04:05.123000Z",
    }


def test_regex_without_a_match_is_flagged() -> None:
    """A line the pattern does not match ships as text with parse_error."""
    parse = build_parser(ParserConfig(type="regex", pattern=r"^(?P<level>[A-Z]+) "))
    fields, flags = parse("lowercase line")
    assert flags == ("parse_error",)
    assert fields == {"error": {"message": "line does not match parser.pattern"}}


def test_nest_merges_dotted_and_nested_forms() -> None:
    """{"a.b": 1, "a": {"c": 2}} -> {"a": {"b": 1, "c": 2}}."""
    assert nest({"a.b": 1, "a": {"c": 2}}) == {"a": {"b": 1, "c": 2}}


def _ts_regex(**options: object) -> ParserConfig:
    return ParserConfig(
        type="regex",
        pattern=r"^(?P<event__time>\S+ \S+) (?P<message>.*)$",
        timestamp_field="event__time",
        timestamp_format="%Y-%m-%d %H:%M:%S,%f",
        **options,  # type: ignore[arg-type]
    )


def test_the_timestamp_group_becomes_timestamp_and_is_not_kept_twice() -> None:
    """The group named by timestamp_field becomes @timestamp and leaves no second copy (nor
    an empty parent object) behind: no stray `ts` beside @timestamp (issue 16, item 5)."""
    fields, flags = build_parser(_ts_regex())("2026-01-02 03:04:05,123 disk low")
    assert flags == ()
    assert fields == {"message": "disk low", "@timestamp": "2026-01-02T03:04:05.123000Z"}


def test_keep_timestamp_field_keeps_the_parsed_copy() -> None:
    """parser.keep_timestamp_field: true keeps the original text beside @timestamp."""
    fields, _ = build_parser(_ts_regex(keep_timestamp_field=True))("2026-01-02 03:04:05,1 x")
    assert fields is not None
    assert fields["event"] == {"time": "2026-01-02 03:04:05,1"}
    assert fields["@timestamp"] == "2026-01-02T03:04:05.100000Z"


def test_an_unreadable_timestamp_field_stays_and_is_flagged() -> None:
    """A value that is not a time is not lost: the field stays, flagged."""
    fields, flags = build_parser(_ts_regex())("yesterday noon disk low")
    assert flags == ("timestamp_parse_error",)
    assert fields is not None
    assert fields["event"] == {"time": "yesterday noon"}


def test_a_json_timestamp_field_is_moved_too() -> None:
    """json with timestamp_field: time -> @timestamp, `time` not kept."""
    parse = build_parser(ParserConfig(type="json", timestamp_field="time"))
    fields, flags = parse('{"time": "2026-01-02T03:04:05Z", "message": "m", "a": 1}')
    assert flags == ()
    assert fields == {"@timestamp": "2026-01-02T03:04:05.000000Z", "message": "m", "a": 1}
