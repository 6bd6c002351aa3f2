"""The wire format: the one module that turns log records into Kafka messages and back.

A record is a dict of ECS fields as nested objects (`{"log": {"level": "info"}}`), except
`@timestamp`, which is a top-level key holding an ISO 8601 UTC string with microseconds.
Every record carries `event.id`, its idempotency key from birth to the Elasticsearch `_id`.

Every message carries two headers: `kl.encoding` (which encoding the value is in, see
`Encoding`) and `kl.event_id`. Decoding is chosen by the `kl.encoding` header; a message
without it (written by another tool) is read as JSON.

The handler, the shipper and the indexer use this module; nothing else serialises records.
"""

from __future__ import annotations

import enum
import hashlib
import importlib
import os
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

ECS_VERSION = "8.17.0"

HEADER_ENCODING = "kl.encoding"
HEADER_EVENT_ID = "kl.event_id"

Headers = Sequence[tuple[str, bytes | str | None]]
Record = dict[str, Any]


class Encoding(enum.StrEnum):
    JSON = "json"
    AVRO = "avro"  # Avro single-object encoding: marker + schema fingerprint + body
    AVRO_CONFLUENT = "avro-confluent"  # Confluent wire format: magic byte + schema id + body


class RecordDecodeError(ValueError):
    """A message that is not a record in any encoding we know. Permanent: dead-letter it."""


_JSON_OPTIONS = orjson.OPT_UTC_Z
# Non-string keys (an `extra=` dict keyed by ints, say) are rare, and allowing them makes every
# dumps() twice as slow: they take the second attempt.
_JSON_OPTIONS_ANY_KEYS = orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z


def _fallback(value: object) -> object:
    """Render what orjson cannot serialise; never raises."""
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not lose the record
        return f"<unrepresentable {type(value).__name__}>"


def encode_json(record: Mapping[str, Any]) -> bytes:
    """A record as compact UTF-8 JSON. Values JSON cannot hold are rendered as strings."""
    try:
        return orjson.dumps(record, default=_fallback, option=_JSON_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        pass
    try:
        return orjson.dumps(record, default=_fallback, option=_JSON_OPTIONS_ANY_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        # Integers beyond 64 bits, recursion through __str__ returning non-str, cycles ...
        return orjson.dumps(_sanitise(record), default=_fallback, option=_JSON_OPTIONS_ANY_KEYS)


def _sanitise(value: Any, depth: int = 0) -> Any:  # noqa: PLR0911 - one return per kind
    if depth > 32:
        return "<too deep>"
    if isinstance(value, Mapping):
        return {str(k): _sanitise(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_sanitise(v, depth + 1) for v in value]
    if isinstance(value, str):
        # Lone surrogates (e.g. from surrogateescape) are not UTF-8: replace them.
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    return _fallback(value)


def encode(record: Mapping[str, Any], encoding: Encoding = Encoding.JSON) -> bytes:
    """A record in `encoding`. Confluent's wire format needs a registered schema id: build
    its encoder with `kafka_logging.wire.avro.confluent_encoder(schema_id)` instead."""
    if encoding is Encoding.JSON:
        return encode_json(record)
    if encoding is Encoding.AVRO:
        return _codec(encoding).encode_single_object(record)  # type: ignore[no-any-return]
    raise ValueError(f"{encoding.value} needs a schema id: use avro.confluent_encoder(schema_id)")


def headers_for(encoding: Encoding, event_id: str) -> list[tuple[str, bytes]]:
    return [(HEADER_ENCODING, encoding.value.encode()), (HEADER_EVENT_ID, event_id.encode())]


def header(headers: Headers | None, name: str) -> str | None:
    """The last value of header `name` as text, or None."""
    found: str | None = None
    for key, value in headers or ():
        if key == name:
            found = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return found


def decode(value: bytes | None, headers: Headers | None = None) -> Record:
    """The record a message holds, by its `kl.encoding` header. Raises RecordDecodeError."""
    if value is None:
        raise RecordDecodeError("message has no value (a tombstone)")
    name = header(headers, HEADER_ENCODING) or Encoding.JSON.value
    try:
        encoding = Encoding(name)
    except ValueError:
        raise RecordDecodeError(f"unknown {HEADER_ENCODING} header {name!r}") from None
    if encoding is Encoding.JSON:
        return decode_json(value)
    return _codec(encoding).decode(value, encoding)  # type: ignore[no-any-return]


# Encodings other than JSON live in modules that depend on this one, never the reverse:
# this table names them and they are imported on first use (only Avro users pay for fastavro).
_CODEC_MODULES: dict[Encoding, str] = {
    Encoding.AVRO: "kafka_logging.wire.avro",
    Encoding.AVRO_CONFLUENT: "kafka_logging.wire.avro",
}


def _codec(encoding: Encoding) -> Any:
    return importlib.import_module(_CODEC_MODULES[encoding])


def decode_json(value: bytes) -> Record:
    try:
        record: object = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise RecordDecodeError(f"value is not JSON: {exc}") from None
    if not isinstance(record, dict):
        raise RecordDecodeError(f"JSON value is a {type(record).__name__}, not an object")
    return record


def event_id(record: Mapping[str, Any]) -> str | None:
    event = record.get("event")
    return event.get("id") if isinstance(event, Mapping) else None


def line_event_id(host: str, file_identity: str, offset: int) -> str:
    """The `event.id` of a line a shipper read: the same line always gets the same id.

    `<32 hex digits>-<offset>`: a 128-bit hash of host + file identity (the same for every
    line of one file, so a shipper computes it once per file: it is this id with offset 0,
    minus the final "0") joined with the line's byte offset in decimal. Unique per line
    because (host, identity) -> prefix is a 128-bit hash and offsets differ within a file.
    (Before session 2 the id was a hash of all three: a replay spanning that upgrade can index
    a line twice, once under each id.)
    """
    digest = hashlib.blake2b(f"{host}\0{file_identity}".encode(), digest_size=16)
    return f"{digest.hexdigest()}-{offset}"


def random_event_id() -> str:
    """A fresh 128-bit id for a record born in a process (no coordination needed)."""
    return os.urandom(16).hex()
