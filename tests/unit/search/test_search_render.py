"""Output formats: text for people, json and ndjson for programs."""

from __future__ import annotations

import io
import json
from typing import Any

import click
import pytest

from kafka_logging.search.render import flatten, make_renderer

ERROR_RECORD: dict[str, Any] = {
    "@timestamp": "2026-11-22T04:31:00.123456Z",
    "message": "payment failed",
    "log": {"level": "error", "logger": "app.payments"},
    "service": {"name": "checkout"},
    "host": {"hostname": "web-1"},
    "error": {
        "type": "ValueError",
        "message": "card declined",
        "stack_trace": (
            'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: card declined'
        ),
    },
    "event": {"id": "abc123"},
    "ecs": {"version": "8.17.0"},
    "order_id": 42,
    "labels": {"env": "prod"},
}


def render(records: list[dict[str, Any]], fmt: str, **options: Any) -> str:
    out = io.StringIO()
    renderer = make_renderer(fmt, out, **options)
    for record in records:
        renderer.write(record)
    renderer.close()
    return out.getvalue()


def test_text_line_has_time_level_service_host_logger_message_error_and_extras() -> None:
    """The default line shows the essentials, the error summary and extra fields, no ids."""
    text = render([ERROR_RECORD], "text")
    assert text == (
        "2026-11-22T04:31:00.123456Z ERROR    checkout web-1 app.payments: payment failed"
        " [ValueError: card declined] order_id=42 labels.env=prod\n"
    )


def test_text_is_plain_without_color() -> None:
    """Piped output (color off) has no ANSI escapes."""
    assert "\x1b[" not in render([ERROR_RECORD], "text", color=False, verbose=True)


def test_text_is_coloured_with_color() -> None:
    """On a terminal the level is coloured; stripping the styles gives the plain line back."""
    coloured = render([ERROR_RECORD], "text", color=True)
    assert click.style("ERROR   ", fg="red", bold=True) in coloured
    assert click.unstyle(coloured) == render([ERROR_RECORD], "text")


def test_verbose_adds_stack_trace_and_all_fields() -> None:
    """--verbose prints the full stack trace and every other field, including event.id."""
    text = render([ERROR_RECORD], "text", verbose=True)
    lines = text.splitlines()
    assert "    event.id: abc123" in lines
    assert "    ecs.version: 8.17.0" in lines
    assert "    order_id: 42" in lines
    assert "    ValueError: card declined" in lines
    assert '      File "x.py", line 1' in lines


def test_control_characters_are_escaped_in_text() -> None:
    """A message cannot send terminal escapes: ESC and CR are shown as \\xNN."""
    text = render([{"message": "red\x1b[31m\rX"}], "text")
    assert "\x1b" not in text
    assert "\r" not in text
    assert "red\\x1b[31m\\x0dX" in text


def test_multiline_message_continuation_is_indented() -> None:
    """Extra lines of a message are indented so each record starts at column 0."""
    text = render([{"message": "one\ntwo"}], "text")
    assert text.splitlines()[1] == "    two"


def test_missing_fields_render_as_dashes() -> None:
    """A bare record still prints one readable line."""
    assert render([{"message": "hi"}], "text") == "- -        - - hi\n"


def test_ndjson_is_one_object_per_line() -> None:
    """ndjson: each line parses back to the record."""
    out = render([ERROR_RECORD, {"message": "b"}], "ndjson")
    assert [json.loads(line) for line in out.splitlines()] == [ERROR_RECORD, {"message": "b"}]


def test_json_is_one_array() -> None:
    """json: the whole output is one JSON array of the records."""
    out = render([ERROR_RECORD, {"message": "b"}], "json")
    assert json.loads(out) == [ERROR_RECORD, {"message": "b"}]


def test_json_without_records_is_an_empty_array() -> None:
    """No matches still print valid JSON."""
    assert json.loads(render([], "json")) == []


def test_json_close_twice_writes_one_end() -> None:
    """close() is idempotent, so an interrupt after the end cannot corrupt the array."""
    out = io.StringIO()
    renderer = make_renderer("json", out)
    renderer.write({"a": 1})
    renderer.close()
    renderer.close()
    assert json.loads(out.getvalue()) == [{"a": 1}]


@pytest.mark.parametrize("fmt", ["text", "json", "ndjson"])
def test_flush_pushes_written_records_through_a_real_text_stream(fmt: str) -> None:
    """Written records reach the underlying bytes on flush(), so a live stream's reader sees
    each batch at once."""
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8", write_through=False)
    renderer = make_renderer(fmt, stream)
    renderer.write({"message": "a"})
    renderer.flush()
    assert b'"a"' in raw.getvalue() or b" a\n" in raw.getvalue()


def test_ndjson_bytes_on_a_text_stream() -> None:
    """ndjson on a real text stream is exactly one compact line per record."""
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8")
    renderer = make_renderer("ndjson", stream)
    renderer.write({"n": 1})
    renderer.write({"n": 2})
    renderer.close()
    assert raw.getvalue() == b'{"n":1}\n{"n":2}\n'


def test_unknown_format_is_rejected() -> None:
    """A format that does not exist is a ValueError naming the choices."""
    with pytest.raises(ValueError, match="text, json, ndjson"):
        make_renderer("xml", io.StringIO())


def test_flatten_nested_to_dotted() -> None:
    """Nested objects flatten to dotted keys; lists stay values."""
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": {}}) == {
        "a.b": 1,
        "a.c.d": [1, 2],
        "e": {},
    }


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.mark.parametrize("fmt", ["text", "ndjson", "json"])
def test_one_write_per_batch(fmt: str) -> None:
    """A batch of records costs one write to the stream, not one per record."""
    out = CountingStream()
    renderer = make_renderer(fmt, out)
    for n in range(50):
        renderer.write({"message": f"m{n}"})
    renderer.flush()
    assert out.writes == 1
    assert out.getvalue().count("m49") == 1


def test_key_fields_stay_on_one_line() -> None:
    """A multi-line extra field is shown with \\n on the default line, keeping one line."""
    text = render([{"message": "m", "sql": "SELECT 1\nFROM t"}], "text")
    assert text.count("\n") == 1
    assert "sql=SELECT 1\\nFROM t" in text
