"""Records: ECS fields, event.id from host + identity + offset, parser merge rules."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from kafka_logging.wire.record import ECS_VERSION, decode, line_event_id
from shipper.config import InputConfig, ParserConfig
from shipper.records import RecordBuilder

TS = "2026-11-22T04:31:00.123456Z"


def build(
    config: InputConfig, text: str, flags: tuple[str, ...] = (), key: str | None = "service.name"
):  # type: ignore[no-untyped-def]
    builder = RecordBuilder(config, "host-1", key).for_file("/var/log/app.log", "ident")
    value, msg_key, headers = builder(77, text, flags, TS)
    return decode(value, headers), msg_key, headers


def test_text_record_has_every_ecs_field() -> None:
    """message, log.file.path, log.offset, host, service, dataset, labels, ecs.version."""
    config = InputConfig(paths=["/x"], service="billing", labels={"team": "pay"})
    record, key, headers = build(config, "hello")
    assert record == {
        "@timestamp": TS,
        "message": "hello",
        "log": {"file": {"path": "/var/log/app.log"}, "offset": 77},
        "host": {"hostname": "host-1"},
        "service": {"name": "billing"},
        "event": {"id": line_event_id("host-1", "ident", 77), "dataset": "billing.log"},
        "labels": {"team": "pay"},
        "ecs": {"version": ECS_VERSION},
    }
    assert key == b"billing"
    assert dict(headers)["kl.event_id"] == record["event"]["id"].encode()
    assert dict(headers)["kl.encoding"] == b"json"


def test_flags_are_in_log_flags() -> None:
    """Flags set by framing/multiline/parsers appear as log.flags."""
    record, _, _ = build(InputConfig(paths=["/x"], service="s"), "x", ("split",))
    assert record["log"]["flags"] == ["split"]


def test_json_fields_merge_but_cannot_forge_the_shipper_fields() -> None:
    """A JSON line's event.id / log.offset / host are replaced; its own fields stay."""
    config = InputConfig(paths=["/x"], service="s", parser=ParserConfig(type="json"))
    line = orjson.dumps(
        {
            "message": "from app",
            "log.level": "warn",
            "event": {"id": "forged", "action": "login"},
            "log": {"offset": 1},
            "@timestamp": "2026-01-01T00:00:00Z",
        }
    ).decode()
    record, _, _ = build(config, line)
    assert record["message"] == "from app"
    assert record["log"]["level"] == "warn"
    assert record["log"]["offset"] == 77
    assert record["event"] == {
        "id": line_event_id("host-1", "ident", 77),
        "dataset": "s.log",
        "action": "login",
    }
    assert record["@timestamp"] == "2026-01-01T00:00:00.000000Z"


def test_invalid_json_ships_the_raw_line_flagged() -> None:
    """Invalid JSON is never lost: raw text, parse_error flag, error.message."""
    config = InputConfig(paths=["/x"], service="s", parser=ParserConfig(type="json"))
    record, _, _ = build(config, "{oops")
    assert record["message"] == "{oops"
    assert record["log"]["flags"] == ["parse_error"]
    assert "invalid JSON" in record["error"]["message"]


def test_key_can_be_another_field_or_none() -> None:
    """output.key picks a dotted record field; null sends no key."""
    config = InputConfig(paths=["/x"], service="s")
    assert build(config, "x", key="host.hostname")[1] == b"host-1"
    assert build(config, "x", key=None)[1] is None


# ---- the spliced fast path ---------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8"), max_size=300)


@settings(max_examples=300, deadline=None)
@given(
    text=_TEXT,
    offset=st.integers(min_value=0, max_value=2**62),
    path=_TEXT.filter(bool),
    hostname=_TEXT.filter(bool),
    service=_TEXT.filter(bool),
    labels=st.dictionaries(_TEXT.filter(bool), _TEXT, max_size=3),
)
def test_fast_path_is_byte_equal_to_encode_json_of_the_record(
    text: str, offset: int, path: str, hostname: str, service: str, labels: dict[str, str]
) -> None:
    """The spliced record (pre-encoded static JSON + orjson of the text + the offset) is
    byte-for-byte what encode_json gives for the same record dict, and so are its key and
    headers: quotes, backslashes, control characters, unicode in any field."""
    config = InputConfig(paths=["/x"], service=service, labels=labels)
    builder = RecordBuilder(config, hostname, "service.name")
    encoder = builder.for_file(path, "ident")
    assert encoder.fast
    [spliced] = encoder.batch([(offset, offset + 1, text, ())], TS)
    assert spliced == builder.build(path, "ident", offset, text, (), TS)
    assert spliced == encoder(offset, text, (), TS)


def test_a_batch_mixes_fast_and_flagged_records_in_order() -> None:
    """Flagged lines take the general path; every record keeps its place and fields."""
    config = InputConfig(paths=["/x"], service="s")
    encoder = RecordBuilder(config, "h", "service.name").for_file("/var/log/a.log", "id")
    events = [(0, 4, "one", ()), (4, 8, "two", ("split",)), (8, 14, "three", ())]
    records = [decode(v, h) for v, _k, h in encoder.batch(events, TS)]
    assert [r["message"] for r in records] == ["one", "two", "three"]
    assert [r["log"].get("flags") for r in records] == [None, ["split"], None]
    assert [r["log"]["offset"] for r in records] == [0, 4, 8]


def test_parsers_and_keys_from_the_record_take_the_general_path() -> None:
    """JSON parsing or a key read from the record disable splicing (same output as before)."""
    json_input = InputConfig(paths=["/x"], service="s", parser=ParserConfig(type="json"))
    assert not RecordBuilder(json_input, "h", "service.name").for_file("/p", "i").fast
    text_input = InputConfig(paths=["/x"], service="s")
    assert not RecordBuilder(text_input, "h", "host.hostname").for_file("/p", "i").fast
    assert not RecordBuilder(text_input, "h", None).for_file("/p", "i").fast
    encoder = RecordBuilder(text_input, "h", "host.hostname").for_file("/p", "i")
    [(value, key, headers)] = encoder.batch([(5, 9, "abc", ())], TS)
    assert key == b"h"
    assert decode(value, headers)["event"]["id"] == line_event_id("h", "i", 5)


@given(
    host=st.text(min_size=1, max_size=20),
    identity=st.text(min_size=1, max_size=40),
    offsets=st.lists(st.integers(min_value=0, max_value=2**62), min_size=2, unique=True),
)
def test_event_id_is_a_per_file_prefix_joined_with_the_offset(
    host: str, identity: str, offsets: list[int]
) -> None:
    """line_event_id = 128-bit hash of host + identity, "-", decimal offset: deterministic,
    one prefix per file, distinct per offset, and what the encoder splices."""
    ids = [line_event_id(host, identity, o) for o in offsets]
    assert len(set(ids)) == len(ids)
    prefix = line_event_id(host, identity, 0)[:-1]
    assert ids == [f"{prefix}{o}" for o in offsets]
    assert len(prefix) == 33
    assert line_event_id(host, identity + "x", offsets[0]) != ids[0]
    assert line_event_id(host + "x", identity, offsets[0]) != ids[0]


def test_text_orjson_refuses_falls_back_to_encode_json() -> None:
    """A lone surrogate (not valid Unicode for orjson) takes encode_json's repair path."""
    config = InputConfig(paths=["/x"], service="s")
    builder = RecordBuilder(config, "h", "service.name")
    [spliced] = builder.for_file("/p", "i").batch([(3, 9, "a\udcffb", ())], TS)
    assert spliced == builder.build("/p", "i", 3, "a\udcffb", (), TS)
    assert decode(spliced[0], spliced[2])["message"] == "a?b"  # encode_json's repair


def test_fit_cuts_the_message_until_the_record_fits_and_flags_it() -> None:
    """A record over the producer's limit ships with its message cut to fit, flagged
    "truncated", the dropped bytes counted; JSON escaping (6 bytes a control character) is
    accounted for."""
    config = InputConfig(paths=["/x"], service="s")
    encoder = RecordBuilder(config, "h", "service.name").for_file("/p", "i")
    text = "\x01" * 5000 + "tail"
    (value, _key, headers), dropped = encoder.fit((10, 5010, text, ("split",)), TS, 4096)
    record = decode(value, headers)
    assert len(value) <= 4096
    assert record["log"]["flags"] == ["split", "truncated"]
    assert text.startswith(record["message"])
    assert dropped == len(text) - len(record["message"])
    assert record["event"]["id"] == line_event_id("h", "i", 10)
