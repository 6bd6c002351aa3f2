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
        "ts": "2026-01-02 03:04:05,123",
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
