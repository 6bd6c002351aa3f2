"""Lines (or multiline events) -> ECS records -> Kafka messages, via kafka_logging.record.

Fields: @timestamp (read time unless the parser supplies one), message, log.file.path,
log.offset, log.flags (only when set), host.hostname, service.name, event.id, event.dataset,
labels, ecs.version, plus the parser's fields. The parser's fields are the base; the fields
the shipper owns (event.id, log.file.path, log.offset, host.hostname, ecs.version) and the
configured service.name / event.dataset / labels always win, so a JSON line can never forge
the idempotency key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kafka_logging.record import (
    ECS_VERSION,
    HEADER_EVENT_ID,
    Encoding,
    encode_json,
    headers_for,
    line_event_id,
)
from shipper.config import InputConfig
from shipper.parsers import build_parser, merge_into

Message = tuple[bytes, bytes | None, list[tuple[str, bytes]]]


def _key_getter(path: str | None) -> Any:
    if path is None:
        return lambda record: None
    parts = path.split(".")

    def get(record: dict[str, Any]) -> bytes | None:
        value: Any = record.get(path) if path == "@timestamp" else record
        if path != "@timestamp":
            for part in parts:
                value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            return None
        return str(value).encode()

    return get


def _header_prefix() -> list[tuple[str, bytes]]:
    """Every header headers_for() sets except the event id (constant for JSON records)."""
    probe = "probe-event-id"
    headers = headers_for(Encoding.JSON, probe)
    assert (HEADER_EVENT_ID, probe.encode()) in headers
    return [h for h in headers if h[0] != HEADER_EVENT_ID]


class RecordBuilder:
    """Built once per input; build() is the per-record path."""

    def __init__(self, config: InputConfig, hostname: str, key_field: str | None) -> None:
        self.hostname = hostname
        self.host = {"hostname": hostname}
        self.ecs = {"version": ECS_VERSION}
        self.header_prefix = _header_prefix()
        self.service = config.service
        self.dataset = config.dataset or f"{config.service}.log"
        self.labels = dict(config.labels) or None
        self.parse = None if config.parser.type == "text" else build_parser(config.parser)
        self.constant_key = (
            self.service.encode() if key_field == "service.name" else None
        )  # the configured service always wins, so the key is known now
        self.key_of = None if key_field == "service.name" else _key_getter(key_field)
        self.service_field = {"name": self.service}

    def for_file(self, path: str, identity: str) -> Callable[..., Message]:
        """build() for one file generation: its path and identity bound once."""
        hostname = self.hostname
        file_field = {"path": path}
        host, ecs, service, dataset = self.host, self.ecs, self.service_field, self.dataset
        labels, parse, prefix = self.labels, self.parse, self.header_prefix
        constant_key, key_of = self.constant_key, self.key_of

        def build(start: int, text: str, flags: tuple[str, ...], timestamp: str) -> Message:
            eid = line_event_id(hostname, identity, start)
            log: dict[str, Any] = {"file": file_field, "offset": start}
            record: dict[str, Any] = {
                "@timestamp": timestamp,
                "message": text,
                "log": log,
                "host": host,
                "service": service,
                "event": {"id": eid, "dataset": dataset},
                "ecs": ecs,
            }
            if labels is not None:
                record["labels"] = labels
            if parse is not None:
                record, log, flags = self._parsed(record, text, flags, parse)
            if flags:
                log["flags"] = list(flags)
            key = constant_key if key_of is None else key_of(record)
            return encode_json(record), key, [*prefix, (HEADER_EVENT_ID, eid.encode())]

        return build

    @staticmethod
    def _parsed(
        record: dict[str, Any], text: str, flags: tuple[str, ...], parse: Any
    ) -> tuple[dict[str, Any], dict[str, Any], tuple[str, ...]]:
        fields, more = parse(text)
        if more:
            flags = (*flags, *more)
        if not fields:
            return record, record["log"], flags
        message = fields.pop("message", None)
        parsed_ts = fields.pop("@timestamp", None)
        merge_into(fields, record)
        if isinstance(parsed_ts, str):
            fields["@timestamp"] = parsed_ts
        if message is not None:
            fields["message"] = message if isinstance(message, str) else str(message)
        return fields, fields["log"], flags
