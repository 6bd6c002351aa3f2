"""Arbitrary file contents never break the shipper's framing, multiline joining or parsers:
each input becomes lines and events that account for every byte, or a flagged record."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kafka_logging.config import parse
from kafka_logging.errors import ConfigError
from shipper.config import MultilineConfig, ParserConfig, ShipperConfig
from shipper.multiline import Multiline
from shipper.parsers import build_parser
from shipper.reader import LineFramer

chunked_bytes = st.lists(
    st.binary(max_size=64) | st.sampled_from([b"\n", b"\r\n", b"\xff\xfe", b"x" * 40]),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(
    chunks=chunked_bytes, max_line=st.integers(8, 64), mode=st.sampled_from(["split", "truncate"])
)
def test_framed_lines_tile_the_file_up_to_the_last_newline(
    chunks: list[bytes], max_line: int, mode: str
) -> None:
    """Lines are contiguous from offset 0 to just after the last newline, whatever the chunking."""
    framer = LineFramer(0, max_line, long_lines=mode)
    lines = []
    for chunk in chunks:
        lines.extend(framer.feed(chunk, 0.0))
    data = b"".join(chunks)
    end = data.rfind(b"\n") + 1
    position = 0
    for start, stop, text, _flags in lines:
        assert start == position
        assert stop > start
        assert isinstance(text, str)
        position = stop
    # Everything up to the last newline is framed; pieces of a long unfinished line may be too.
    assert end <= position <= len(data)


line_texts = st.lists(
    st.text(max_size=30)
    | st.sampled_from(
        [
            "Traceback (most recent call last):",
            '  File "app.py", line 3, in <module>',
            "ValueError: bad",
            "\tat com.example.Main.run(Main.java:10)",
            "Caused by: java.io.IOException: x",
            "java.lang.IllegalStateException: boom",
            "",
        ]
    ),
    max_size=25,
).map(lambda texts: [t.replace("\n", " ") for t in texts])


def _as_lines(texts: list[str]) -> list[tuple[int, int, str, tuple[str, ...]]]:
    out, offset = [], 0
    for text in texts:
        end = offset + len(text.encode()) + 1
        out.append((offset, end, text, ()))
        offset = end
    return out


multiline_configs = st.sampled_from(
    [
        MultilineConfig(preset="python"),
        MultilineConfig(preset="java"),
        MultilineConfig(pattern=r"^\s", match="after"),
        MultilineConfig(pattern=r"^\d", negate=True, match="after"),
        MultilineConfig(pattern=r"\\$", match="before"),
        MultilineConfig(preset="python", max_lines=3, max_bytes=40),
    ]
)


@settings(max_examples=300, deadline=None)
@given(texts=line_texts, config=multiline_configs)
def test_multiline_keeps_every_line_in_order(texts: list[str], config: MultilineConfig) -> None:
    """Joined events hold exactly the input lines, in order, with contiguous offsets."""
    joiner = Multiline(config)
    events = joiner.feed(_as_lines(texts), 0.0) + joiner.flush(0.0, force=True)
    rebuilt = [part for _s, _e, text, _f in events for part in text.split("\n")]
    assert rebuilt == texts
    position = 0
    for start, end, _text, _flags in events:
        assert start == position
        position = end


parser_configs = st.sampled_from(
    [
        ParserConfig(type="text"),
        ParserConfig(type="json"),
        ParserConfig(type="json", timestamp_field="ts"),
        ParserConfig(type="regex", pattern=r"^(?P<log__level>[A-Z]+) (?P<message>.*)$"),
        ParserConfig(type="regex", pattern=r"(?P<a__b>\d+)", timestamp_field="a.b"),
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    text=st.text(max_size=80)
    | st.sampled_from(['{"a": 1}', "[1, 2]", '{"@timestamp": "nope"}', '{"log.level": {"x": 1}}']),
    config=parser_configs,
)
def test_parsers_never_raise(text: str, config: ParserConfig) -> None:
    """Any line gives fields (or none) and flags; an unreadable one is flagged, not raised."""
    fields, flags = build_parser(config)(text)
    assert fields is None or isinstance(fields, dict)
    assert all(isinstance(f, str) for f in flags)


yaml_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    doc=st.fixed_dictionaries(
        {},
        optional={
            "inputs": st.lists(
                st.fixed_dictionaries(
                    {}, optional={"paths": yaml_like, "service": yaml_like, "parser": yaml_like}
                ),
                max_size=2,
            ),
            "kafka": yaml_like,
            "limits": yaml_like,
            "checkpoint": yaml_like,
        },
    )
)
def test_any_shipper_config_is_valid_or_a_config_error(doc: dict[str, Any]) -> None:
    """Random config documents load or fail with a ConfigError naming fields, never crash."""
    try:
        parse(doc, ShipperConfig, environ={})
    except ConfigError as exc:
        message = str(exc)
    else:
        message = "loaded: a valid config"
    assert ":" in message
