"""Confluent wire format through a schema registry: writer schema by id, cached; errors."""

from __future__ import annotations

import pytest

from indexer.registry import ConfluentAvroDecoder
from kafka_logging.errors import RetryableError
from kafka_logging.wire import avro
from kafka_logging.wire.record import RecordDecodeError

RECORD = {
    "@timestamp": "2026-11-22T04:31:00.123456Z",
    "message": "hello",
    "log": {"level": "info"},
    "event": {"id": "e1"},
    "labels": {"k": "v"},
}


def test_body_is_read_with_the_schema_the_registry_returns_and_cached() -> None:
    """The schema id in the frame is looked up once; the record comes back whole."""
    asked: list[int] = []

    def lookup(schema_id: int) -> str:
        asked.append(schema_id)
        return avro.schema_text()

    decoder = ConfluentAvroDecoder(lookup)
    value = avro.confluent_encoder(42)(RECORD)
    assert decoder.decode(value)["message"] == "hello"
    assert decoder.decode(value)["event"] == {"id": "e1"}
    assert asked == [42]


def test_unknown_schema_id_is_a_decode_error() -> None:
    """The registry's 404 becomes RecordDecodeError: the message is dead-lettered."""

    def lookup(schema_id: int) -> str:
        raise RecordDecodeError(f"schema id {schema_id} unknown to the registry")

    with pytest.raises(RecordDecodeError, match="unknown"):
        ConfluentAvroDecoder(lookup).decode(avro.confluent_encoder(7)(RECORD))


def test_unreachable_registry_is_retryable_and_not_cached() -> None:
    """An outage is RetryableError, and the next attempt asks again."""
    calls = []

    def lookup(schema_id: int) -> str:
        calls.append(schema_id)
        if len(calls) == 1:
            raise RetryableError("connection refused")
        return avro.schema_text()

    decoder = ConfluentAvroDecoder(lookup)
    value = avro.confluent_encoder(3)(RECORD)
    with pytest.raises(RetryableError):
        decoder.decode(value)
    assert decoder.decode(value)["message"] == "hello"


@pytest.mark.parametrize("value", [b"", b"\x01\x00\x00\x00\x01abc", b"\x00\x00"])
def test_bad_frames_are_decode_errors(value: bytes) -> None:
    """No magic byte or too short: RecordDecodeError without asking the registry."""
    with pytest.raises(RecordDecodeError):
        ConfluentAvroDecoder(lambda _id: "{}").decode(value)


def test_a_schema_that_is_not_a_record_schema_is_a_decode_error() -> None:
    """A registry schema kafka_logging cannot use is reported, not raised as a crash."""
    decoder = ConfluentAvroDecoder(lambda _id: '"string"')
    with pytest.raises(RecordDecodeError, match="schema id 5"):
        decoder.decode(b"\x00\x00\x00\x00\x05abc")
