"""Avro encodings decode to the same record as the JSON encoding (kafka_logging.wire.avro)."""

from __future__ import annotations

import logging
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafka_logging.handler.ecs import EcsFormatter
from kafka_logging.wire import avro, record
from kafka_logging.wire.record import Encoding, RecordDecodeError


def sample() -> dict[str, Any]:
    try:
        raise ValueError("bad value")
    except ValueError:
        exc_info = sys.exc_info()
    rec = logging.getLogger("x").makeRecord(
        "x", logging.ERROR, "/a/b.py", 3, "msg %s", ("é",), exc_info, func="f",
        extra={"order": {"id": 1, "tags": {"a"}}, "log.custom": True, "when": object()},
    )  # fmt: skip
    return EcsFormatter("svc", "1", "prod").build(rec)


def json_view(data: dict[str, Any]) -> dict[str, Any]:
    return record.decode(record.encode_json(data), record.headers_for(Encoding.JSON, "e"))


def test_single_object_round_trip_equals_json() -> None:
    """Single-object encoding decodes to exactly the dict the JSON path gives, extras included."""
    data = sample()
    value = record.encode(data, Encoding.AVRO)
    assert value[:2] == b"\xc3\x01"
    assert value[2:10] == avro.codec().fingerprint
    decoded = record.decode(value, record.headers_for(Encoding.AVRO, data["event"]["id"]))
    assert decoded == json_view(data)


def test_confluent_round_trip_equals_json() -> None:
    """Confluent framing: magic 0, big-endian schema id, same body; decodes like JSON."""
    data = sample()
    value = avro.confluent_encoder(258)(data)
    assert value[:5] == b"\x00\x00\x00\x01\x02"
    decoded = record.decode(value, record.headers_for(Encoding.AVRO_CONFLUENT, "e"))
    assert decoded == json_view(data)
    by_id = avro.decode_confluent_with(value, lambda schema_id: avro.schema_text())
    assert by_id == decoded


def test_fingerprint_is_crc64_avro_of_canonical_form() -> None:
    """The fingerprint is the spec's CRC-64-AVRO (little endian) of the parsing canonical form."""
    import json

    import fastavro

    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    canonical = fastavro.schema.to_parsing_canonical_form(json.loads(avro.schema_text()))
    fp = empty
    for byte in canonical.encode():
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    assert avro.codec().fingerprint == fp.to_bytes(8, "little")


def test_unknown_fingerprint_is_a_decode_error() -> None:
    """A single-object message of a schema we do not ship is refused, not misread."""
    value = b"\xc3\x01" + b"\x00" * 8 + b"\x00"
    with pytest.raises(RecordDecodeError, match="fingerprint"):
        avro.decode(value, Encoding.AVRO)


def test_confluent_encoding_needs_an_id() -> None:
    """record.encode refuses Confluent's format (it needs a registered schema id)."""
    with pytest.raises(ValueError, match="schema id"):
        record.encode({"a": 1}, Encoding.AVRO_CONFLUENT)


def test_wrongly_typed_ecs_field_travels_in_extra_json() -> None:
    """A value that does not fit its typed Avro field still round-trips (via extra_json)."""
    data = {"process": {"pid": "not-a-number", "name": "p"}, "event": {"id": "e"}, "n": 2**70}
    decoded = avro.decode(record.encode(data, Encoding.AVRO), Encoding.AVRO)
    assert decoded == json_view(data)


json_leaf = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8)
json_values = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(
    extra=st.dictionaries(st.sampled_from(["log", "process", "error", "x", "event"]), json_values),
    message=st.text(),
)
def test_any_record_round_trips_like_json(extra: dict[str, Any], message: str) -> None:
    """For arbitrary extras overlapping ECS objects, Avro decode == JSON decode."""
    data = sample()
    data["message"] = message
    for key, value in extra.items():
        data.setdefault(f"x_{key}", value)
        if isinstance(data.get(key), dict) and isinstance(value, dict):
            for k, v in value.items():
                data[key].setdefault(k, v)
    encoded = record.encode(data, Encoding.AVRO)
    assert avro.decode(encoded, Encoding.AVRO) == json_view(data)
