"""Avro in Confluent's wire format, decoded with the writer schema a schema registry holds.

Without `schema_registry.url`, kafka_logging.wire.record.decode reads such messages with the schema
shipped in kafka_logging (the handler registers that one). With it, each schema id is looked
up once (then cached) and the body read with that schema. An id the registry does not know is
a RecordDecodeError (dead-lettered); a registry that cannot be reached is a RetryableError
(the worker waits and tries again: nothing is dead-lettered for an outage).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kafka_logging.errors import RetryableError
from kafka_logging.wire import avro
from kafka_logging.wire.record import Record, RecordDecodeError

if TYPE_CHECKING:
    from indexer.config import SchemaRegistrySettings

SchemaLookup = Callable[[int], str]


class ConfluentAvroDecoder:
    """Decodes `00 | schema id (4 bytes, big endian) | Avro body` with the registry's schema."""

    def __init__(self, lookup: SchemaLookup) -> None:
        self._lookup = lookup
        self._codecs: dict[int, avro.Codec] = {}

    def decode(self, value: bytes) -> Record:
        if len(value) < 5 or value[:1] != b"\x00":
            raise RecordDecodeError("not Confluent wire format (magic byte 0 missing)")
        schema_id = int.from_bytes(value[1:5], "big")
        codec = self._codecs.get(schema_id)
        if codec is None:
            text = self._lookup(schema_id)
            try:
                codec = avro.Codec(text)
            except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
                raise RecordDecodeError(
                    f"schema id {schema_id} is not a kafka-logging record schema: {exc}"
                ) from None
            self._codecs[schema_id] = codec
        return codec.record(value[5:])


def registry_lookup(settings: SchemaRegistrySettings) -> SchemaLookup:
    """A lookup of schema text by id through confluent-kafka's SchemaRegistryClient."""
    from confluent_kafka.schema_registry import (  # noqa: PLC0415
        SchemaRegistryClient,
        SchemaRegistryError,
    )

    conf: dict[str, Any] = {"url": settings.url}
    conf.update(settings.config)
    client = SchemaRegistryClient(conf)

    def lookup(schema_id: int) -> str:
        try:
            schema = client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise RecordDecodeError(f"schema id {schema_id} unknown to the registry") from None
            raise RetryableError(f"schema registry: {exc}") from exc
        except Exception as exc:  # any transport failure is worth retrying
            raise RetryableError(f"schema registry unreachable: {exc}") from exc
        if schema.schema_str is None:
            raise RecordDecodeError(f"schema id {schema_id} has no schema text in the registry")
        return schema.schema_str

    return lookup
