"""The compiled record splicing gives exactly the messages of the Python splicing and of the
general path (encode_json of the record dict)."""

from __future__ import annotations

from types import ModuleType

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper.config import InputConfig
from shipper.reader import Line
from shipper.records import FileEncoder, RecordBuilder

TS = "2026-11-22T04:31:00.123456Z"
# Any code point, lone surrogates included (orjson refuses them: the general path decides).
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=200)
UTF8_TEXT = st.text(st.characters(codec="utf-8"), max_size=40).filter(bool)
FLAGS = st.lists(st.sampled_from(["partial", "split", "invalid_utf8", "truncated"]), max_size=2)
EVENTS = st.lists(
    st.tuples(st.integers(0, 2**62), ANY_TEXT, FLAGS.map(tuple)), min_size=0, max_size=8
)


def encoders(
    native: ModuleType, builder: RecordBuilder, path: str
) -> tuple[FileEncoder, FileEncoder]:
    compiled = builder.for_file(path, "dev-ino-fingerprint")
    pure = builder.for_file(path, "dev-ino-fingerprint")
    pure.splicer = None
    assert compiled.fast
    if compiled.splicer is None:  # the suite runs with KAFKA_LOGGING_PURE=1
        compiled.splicer = native.Splicer(
            compiled.before_offset,
            compiled.before_eid,
            compiled.after_eid,
            compiled.eid_prefix,
            compiled.key,
            compiled.encoding_header,
            "kl.event_id",
        )
    return compiled, pure


@settings(max_examples=300, deadline=None)
@given(
    events=EVENTS,
    path=UTF8_TEXT,
    hostname=UTF8_TEXT,
    service=UTF8_TEXT,
    labels=st.dictionaries(UTF8_TEXT, UTF8_TEXT, max_size=2),
    timestamp=st.sampled_from([TS, "2026-01-01T00:00:00.000000Z"]),
)
def test_batch_is_byte_equal_on_both_paths(
    native: ModuleType,
    events: list[tuple[int, str, tuple[str, ...]]],
    path: str,
    hostname: str,
    service: str,
    labels: dict[str, str],
    timestamp: str,
) -> None:
    """Any texts (quotes, control characters, non-ASCII, lone surrogates), offsets, flags and
    static fields: the same values, keys and headers, in order, on both paths and as the
    general path builds them one by one."""
    builder = RecordBuilder(
        InputConfig(paths=["/x"], service=service, labels=labels), hostname, "service.name"
    )
    compiled, pure = encoders(native, builder, path)
    lines: list[Line] = [(start, start + 1, text, flags) for start, text, flags in events]
    expected = [compiled(start, text, flags, timestamp) for start, _e, text, flags in lines]
    assert compiled.batch(lines, timestamp) == expected
    assert pure.batch(lines, timestamp) == expected


@settings(max_examples=300, deadline=None)
@given(text=ANY_TEXT)
def test_json_string_is_orjson(native: ModuleType, text: str) -> None:
    """The compiled JSON string escaping is orjson.dumps for every text orjson accepts."""
    try:
        expected = orjson.dumps(text)
    except orjson.JSONEncodeError:
        return
    assert native.json_string(text) == expected


def test_events_may_be_lists(native: ModuleType) -> None:
    """Events that crossed a process boundary as lists splice like tuples."""
    builder = RecordBuilder(InputConfig(paths=["/x"], service="s"), "h", "service.name")
    compiled, pure = encoders(native, builder, "/var/log/a.log")
    events = [[0, 4, "one", ()], [4, 9, "two\n", ("split",)]]
    assert compiled.batch(events, TS) == pure.batch(events, TS)  # type: ignore[arg-type]
