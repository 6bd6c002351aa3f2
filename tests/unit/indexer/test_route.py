"""Router: daily index from the record's own @timestamp, _id from event.id, source bytes."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from indexer.route import Router
from kafka_logging.wire.record import Encoding, RecordDecodeError, encode_json, headers_for

TP = ("logs", 2)
KAFKA_MS = int(datetime(2026, 1, 5, 12, tzinfo=UTC).timestamp() * 1000)


def build(value: bytes | None, headers: list[tuple[str, bytes]] | None = None) -> tuple[str, str]:
    doc = Router("logs-%Y.%m.%d").build(TP, 41, 1, None, value, headers, KAFKA_MS)
    action = orjson.loads(doc.action)["create"]
    return action["_index"], action["_id"]


def test_index_and_id_come_from_the_record() -> None:
    """@timestamp's UTC day picks the index, event.id is the _id."""
    value = encode_json({"@timestamp": "2026-11-22T23:59:59.999999Z", "event": {"id": "abc"}})
    assert build(value, headers_for(Encoding.JSON, "abc")) == ("logs-2026.11.22", "abc")


def test_an_offset_timestamp_is_converted_to_utc_first() -> None:
    """01:00+02:00 on the 23rd is 23:00 UTC on the 22nd."""
    value = encode_json({"@timestamp": "2026-11-23T01:00:00+02:00", "event": {"id": "a"}})
    assert build(value)[0] == "logs-2026.11.22"


def test_epoch_millis_timestamp() -> None:
    """A number is read as epoch milliseconds, as Elasticsearch reads it."""
    millis = int(datetime(2026, 3, 4, tzinfo=UTC).timestamp() * 1000)
    assert build(encode_json({"@timestamp": millis}))[0] == "logs-2026.03.04"


@pytest.mark.parametrize("stamp", [None, "yesterday", "", 1.5e30])
def test_unusable_timestamp_falls_back_to_the_kafka_timestamp(stamp: object) -> None:
    """No usable @timestamp: the message timestamp (deterministic on replay) picks the day."""
    record = {"message": "m"} if stamp is None else {"@timestamp": stamp}
    assert build(encode_json(record))[0] == "logs-2026.01.05"


def test_missing_event_id_falls_back_to_topic_partition_offset() -> None:
    """No event.id: _id = <topic>-<partition>-<offset>."""
    assert build(encode_json({"message": "m"}))[1] == "logs-2-41"


def test_json_source_is_the_original_bytes() -> None:
    """A JSON message is sent as it arrived, not re-serialised."""
    value = b'{"message": "spaced   out",  "event": {"id": "x"}}'
    doc = Router("logs-%Y.%m.%d").build(TP, 0, 1, None, value, None, KAFKA_MS)
    assert doc.source is value


def test_pretty_printed_json_is_folded_onto_one_line() -> None:
    """Newlines between JSON tokens would break NDJSON: they become spaces."""
    value = b'{\n  "message": "m"\n}'
    doc = Router("logs-%Y.%m.%d").build(TP, 0, 1, None, value, None, KAFKA_MS)
    assert b"\n" not in doc.source
    assert orjson.loads(doc.source) == {"message": "m"}


@pytest.mark.parametrize(
    ("value", "headers"),
    [
        (b"not json", None),
        (b"[1, 2]", None),
        (None, None),
        (b"{}", [("kl.encoding", b"protobuf")]),
    ],
)
def test_undecodable_messages_raise_record_decode_error(
    value: bytes | None, headers: list[tuple[str, bytes]] | None
) -> None:
    """Garbage, non-objects, tombstones and unknown encodings are RecordDecodeError."""
    with pytest.raises(RecordDecodeError):
        build(value, headers)
