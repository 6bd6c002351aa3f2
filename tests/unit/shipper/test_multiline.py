"""Multiline: Filebeat's pattern/negate/match, the presets, limits and the flush timeout."""

from __future__ import annotations

from shipper.config import MultilineConfig
from shipper.multiline import Multiline
from shipper.reader import Line


def lines_of(*texts: str) -> list[Line]:
    out: list[Line] = []
    offset = 0
    for text in texts:
        size = len(text.encode()) + 1
        out.append((offset, offset + size, text, ()))
        offset += size
    return out


def texts(events: list[Line]) -> list[str]:
    return [e[2] for e in events]


def run(config: MultilineConfig, *input_lines: str) -> list[Line]:
    joiner = Multiline(config)
    return joiner.feed(lines_of(*input_lines), now=0) + joiner.flush(now=0, force=True)


def test_negate_false_match_after_appends_matching_lines_to_the_previous_one() -> None:
    """pattern '^\\s' (indented lines continue the line before)."""
    config = MultilineConfig(pattern=r"^\s", negate=False, match="after")
    events = run(config, "a", "  a1", "  a2", "b", "c", "  c1")
    assert texts(events) == ["a\n  a1\n  a2", "b", "c\n  c1"]
    assert events[0][3] == ("multiline",)
    assert events[1][3] == ()


def test_negate_true_match_after_appends_non_matching_lines_to_the_matching_one() -> None:
    """pattern '^\\[' negate: lines not starting with '[' continue the previous event."""
    config = MultilineConfig(pattern=r"^\[", negate=True, match="after")
    assert texts(run(config, "[1] x", "more", "[2] y", "[3] z", "tail")) == [
        "[1] x\nmore",
        "[2] y",
        "[3] z\ntail",
    ]


def test_negate_false_match_before_prepends_matching_lines_to_the_next_one() -> None:
    """pattern '\\\\$' (a trailing backslash continues onto the next line)."""
    config = MultilineConfig(pattern=r"\\$", negate=False, match="before")
    assert texts(run(config, "a \\", "b \\", "c", "d")) == ["a \\\nb \\\nc", "d"]


def test_negate_true_match_before_joins_until_a_matching_line() -> None:
    """pattern ';$' negate match before: lines up to one ending in ';' form an event."""
    config = MultilineConfig(pattern=r";$", negate=True, match="before")
    assert texts(run(config, "select *", "from t", "where x;", "commit;")) == [
        "select *\nfrom t\nwhere x;",
        "commit;",
    ]


PY_TRACE = [
    "2026-01-01 ERROR failed to handle",
    "Traceback (most recent call last):",
    '  File "app.py", line 3, in <module>',
    "    main()",
    "ValueError: boom",
    "",
    "During handling of the above exception, another exception occurred:",
    "",
    "Traceback (most recent call last):",
    '  File "app.py", line 5, in <module>',
    "    raise KeyError('x')",
    "KeyError: 'x'",
]


def test_python_preset_keeps_a_chained_traceback_with_its_log_line() -> None:
    """The log line, both tracebacks and the chaining text are one event; the next is not."""
    events = run(MultilineConfig(preset="python"), "2026-01-01 INFO before", *PY_TRACE, "after")
    assert texts(events) == ["2026-01-01 INFO before", "\n".join(PY_TRACE), "after"]


def test_java_preset_joins_exception_frames_and_causes() -> None:
    """Exception line, 'at' frames, '... N more' and 'Caused by:' join the log line."""
    trace = [
        "2026-01-01 ERROR request failed",
        "java.lang.IllegalStateException: bad",
        "\tat com.example.A.run(A.java:10)",
        "\tat com.example.Main.main(Main.java:3)",
        "Caused by: java.io.IOException: disk",
        "\tat com.example.B.io(B.java:7)",
        "\t... 2 more",
    ]
    events = run(MultilineConfig(preset="java"), *trace, "2026-01-01 INFO next")
    assert texts(events) == ["\n".join(trace), "2026-01-01 INFO next"]


def test_max_lines_closes_the_event_and_the_rest_starts_a_new_one() -> None:
    """Nothing is dropped at the limit: the event is closed and flagged multiline_limit."""
    config = MultilineConfig(pattern=r"^\s", max_lines=3)
    events = run(config, "a", " 1", " 2", " 3", " 4")
    assert texts(events) == ["a\n 1\n 2", " 3\n 4"]
    assert "multiline_limit" in events[0][3]


def test_max_bytes_closes_the_event() -> None:
    """An event never exceeds max_bytes (plus one line)."""
    config = MultilineConfig(pattern=r"^\s", max_bytes=10)
    events = run(config, "abcdef", " ghijk", " lm")
    assert texts(events) == ["abcdef", " ghijk\n lm"]


def test_pending_event_is_flushed_only_after_the_timeout() -> None:
    """The last event waits for a line that ends it, or for flush_timeout."""
    joiner = Multiline(MultilineConfig(pattern=r"^\s", flush_timeout_seconds=5))
    assert texts(joiner.feed(lines_of("a", " b"), now=100)) == []
    assert joiner.flush(now=104) == []
    assert joiner.pending_start == 0
    event = joiner.flush(now=105)
    assert event == [(0, 5, "a\n b", ("multiline",))]


def test_event_offsets_span_from_its_first_to_its_last_line() -> None:
    """start is the first line's start, end the last line's end (the checkpoint target)."""
    events = run(MultilineConfig(pattern=r"^\s"), "ab", " cd", "ef")
    assert [(e[0], e[1]) for e in events] == [(0, 7), (7, 10)]
