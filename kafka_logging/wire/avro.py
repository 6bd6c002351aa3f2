"""Avro encodings of records: single-object encoding and Confluent's wire format.

The schema (kafka_logging/wire/schemas/log_record.v1.avsc) holds the ECS fields the handler
always writes as typed Avro fields; every other part of a record (extra= values, nested
objects, anything a typed field cannot hold) travels as one JSON object in `extra_json`.
Decoding merges both back, so `decode(encode(r))` equals `record.decode_json(encode_json(r))`:
the indexer treats every encoding alike.

- Single-object encoding (`Encoding.AVRO`): `C3 01`, the schema's 8-byte CRC-64-AVRO
  fingerprint (little endian), then the body. No registry needed: the fingerprint names
  one of the schemas shipped in this package.
- Confluent wire format (`Encoding.AVRO_CONFLUENT`): `00`, a 4-byte big-endian schema id
  from a schema registry, then the body. The handler registers the shipped schema under
  `<topic>-value` and frames with the id it gets back. `decode` reads the body with the
  shipped schema (the handler is the only writer of this format); `decode_confluent_with`
  resolves the writer schema by id through a registry client when one is at hand.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources
from typing import Any

import fastavro
import orjson

from kafka_logging.wire.record import Encoding, Record, RecordDecodeError, encode_json

SCHEMA_VERSION = 1
SCHEMA_FILE = "log_record.v1.avsc"
SINGLE_OBJECT_MARKER = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"

_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


def schema_text(version: int = SCHEMA_VERSION) -> str:
    """The .avsc text of a shipped schema version."""
    path = resources.files("kafka_logging.wire") / "schemas" / f"log_record.v{version}.avsc"
    return path.read_text(encoding="utf-8")


class Codec:
    """One schema version, parsed once: split/merge tables, fingerprint, writer and reader."""

    def __init__(self, text: str) -> None:
        raw = json.loads(text)
        self.schema_json = text
        self.parsed = fastavro.parse_schema(raw)
        canonical = fastavro.schema.to_parsing_canonical_form(raw)
        self.fingerprint = bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"))
        self.prefix = SINGLE_OBJECT_MARKER + self.fingerprint
        # ECS path -> (avro field name, python type check)
        self.fields: list[tuple[tuple[str, ...], str]] = []
        self.tree: dict[str, Any] = {}
        for field in raw["fields"]:
            ecs = field.get("ecs")
            if ecs is None:
                continue
            path = (ecs,) if ecs == "@timestamp" else tuple(ecs.split("."))
            self.fields.append((path, field["name"]))
            kind = field["type"][1]
            node = self.tree
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = (field["name"], _is_str if kind == "string" else _is_long)

    # -- encode -------------------------------------------------------------------------
    def body(self, record: Mapping[str, Any]) -> bytes:
        datum: dict[str, Any] = {}
        residual = _split(record, self.tree, datum)
        datum["extra_json"] = encode_json(residual).decode() if residual else None
        out = io.BytesIO()
        try:
            fastavro.schemaless_writer(out, self.parsed, datum)
        except (UnicodeEncodeError, ValueError, TypeError):
            out = io.BytesIO()
            fastavro.schemaless_writer(out, self.parsed, _utf8_safe(datum))
        return out.getvalue()

    # -- decode -------------------------------------------------------------------------
    def record(self, body: bytes) -> Record:
        try:
            datum = fastavro.schemaless_reader(io.BytesIO(body), self.parsed, None)
        except Exception as exc:  # noqa: BLE001 - any corrupt body is one decode error
            raise RecordDecodeError(f"Avro body does not match the schema: {exc}") from None
        if not isinstance(datum, dict):
            raise RecordDecodeError("Avro body is not a record")
        result: Record = {}
        extra = datum.get("extra_json")
        if extra:
            try:
                loaded = orjson.loads(extra)
            except orjson.JSONDecodeError as exc:
                raise RecordDecodeError(f"extra_json is not JSON: {exc}") from None
            if isinstance(loaded, dict):
                result = loaded
        for path, name in self.fields:
            value = datum.get(name)
            if value is None:
                continue
            node = result
            for part in path[:-1]:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            node[path[-1]] = value
        return result


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_long(value: object) -> bool:
    return type(value) is int and _LONG_MIN <= value <= _LONG_MAX


def _split(node: Mapping[str, Any], tree: Mapping[str, Any], datum: dict[str, Any]) -> Record:
    """Move typed fields of `node` into `datum`; return what is left (without emptied dicts)."""
    residual: Record = {}
    for key, value in node.items():
        sub = tree.get(key)
        if sub is None:
            residual[key] = value
        elif isinstance(sub, tuple):
            name, fits = sub
            if fits(value):
                datum[name] = value
            else:
                residual[key] = value
        elif isinstance(value, Mapping):
            rest = _split(value, sub, datum)
            if rest or not value:
                residual[key] = rest
        else:
            residual[key] = value
    return residual


def _utf8_safe(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {k: _utf8_safe(v) for k, v in value.items()}
    return value


@cache
def codec(version: int = SCHEMA_VERSION) -> Codec:
    """The codec of a shipped schema version (parsed once per process; immutable)."""
    return Codec(schema_text(version))


def _by_fingerprint(fingerprint: bytes) -> Codec | None:
    current = codec()
    return current if current.fingerprint == fingerprint else None


def encode_single_object(record: Mapping[str, Any]) -> bytes:
    """Avro single-object encoding with the current shipped schema."""
    c = codec()
    return c.prefix + c.body(record)


def confluent_encoder(schema_id: int) -> Callable[[Mapping[str, Any]], bytes]:
    """An encoder framing bodies in Confluent's wire format with a registered schema id."""
    c = codec()
    prefix = CONFLUENT_MAGIC + schema_id.to_bytes(4, "big")

    def encode(record: Mapping[str, Any]) -> bytes:
        return prefix + c.body(record)

    return encode


def decode(value: bytes, encoding: Encoding) -> Record:
    """The record an Avro message holds. Raises RecordDecodeError."""
    if encoding is Encoding.AVRO:
        if len(value) < 10 or value[:2] != SINGLE_OBJECT_MARKER:
            raise RecordDecodeError("not Avro single-object encoding (marker C3 01 missing)")
        found = _by_fingerprint(value[2:10])
        if found is None:
            raise RecordDecodeError(f"unknown Avro schema fingerprint {value[2:10].hex()}")
        return found.record(value[10:])
    if encoding is Encoding.AVRO_CONFLUENT:
        if len(value) < 5 or value[:1] != CONFLUENT_MAGIC:
            raise RecordDecodeError("not Confluent wire format (magic byte 0 missing)")
        return codec().record(value[5:])
    raise RecordDecodeError(f"{encoding.value} is not an Avro encoding")


def decode_confluent_with(value: bytes, schema_for_id: Callable[[int], str]) -> Record:
    """Decode Confluent wire format, resolving the writer schema text by id (a registry)."""
    if len(value) < 5 or value[:1] != CONFLUENT_MAGIC:
        raise RecordDecodeError("not Confluent wire format (magic byte 0 missing)")
    text = schema_for_id(int.from_bytes(value[1:5], "big"))
    return Codec(text).record(value[5:])
