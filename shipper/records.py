"""Lines (or multiline events) -> ECS records -> Kafka messages, via kafka_logging.wire.record.

Fields: @timestamp (read time unless the parser supplies one), message, log.file.path,
log.offset, log.flags (only when set), host.hostname, service.name, event.id, event.dataset,
labels, ecs.version, plus the parser's fields. The parser's fields are the base; the fields
the shipper owns (event.id, log.file.path, log.offset, host.hostname, ecs.version) and the
configured service.name / event.dataset / labels always win, so a JSON line can never forge
the idempotency key.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import orjson

from kafka_logging.speedups import native
from kafka_logging.wire.record import (
    ECS_VERSION,
    HEADER_EVENT_ID,
    Encoding,
    encode_json,
    headers_for,
    line_event_id,
)
from shipper.config import InputConfig
from shipper.kubernetes import PathMeta, detect_format, path_meta, service_rule
from shipper.parsers import build_parser, merge_into
from shipper.reader import Event

if TYPE_CHECKING:
    from kafka_logging.speedups._native import Splicer

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
        self.format = config.format
        self.container = config.container
        if config.format != "plain":
            fallback = config.container.service_fallback
            self.service_of = service_rule(config.service, fallback)
            self.dataset_of = service_rule(config.dataset or f"{config.service}.log", fallback)

    def file_format(self, path: str) -> Literal["cri", "docker"] | None:
        """The container format of the file at `path` ("cri", "docker"), None for plain."""
        if self.format == "plain":
            return None
        if self.format == "auto":
            return detect_format(path)
        return self.format

    def for_file(self, path: str, identity: str) -> FileEncoder:
        """The encoder for one file generation: its path and identity bound once."""
        if self.file_format(path) is not None:
            return ContainerEncoder(self, path, identity, path_meta(path))
        return FileEncoder(self, path, identity)

    def build(
        self,
        path: str,
        identity: str,
        start: int,
        text: str,
        flags: tuple[str, ...],
        timestamp: str,
    ) -> Message:
        """The general path: the record as a dict, encoded by kafka_logging.wire.record.encode_json.
        Every record the fast path cannot splice (parsers, flags, keys read from the record)
        goes here; the fast path is proven byte-equal to it (tests/unit/shipper)."""
        eid = line_event_id(self.hostname, identity, start)
        record = self.record(path, timestamp, text, start, eid)
        log: dict[str, Any] = record["log"]
        if self.parse is not None:
            record, log, flags = self._parsed(record, text, flags, self.parse)
        if flags:
            log["flags"] = list(flags)
        key = self.constant_key if self.key_of is None else self.key_of(record)
        return encode_json(record), key, [*self.header_prefix, (HEADER_EVENT_ID, eid.encode())]

    def record(
        self, path: str, timestamp: str, text: str, offset: int | str, eid: str
    ) -> dict[str, Any]:
        """The record of one line before parsing: every static field plus these. (The fast
        path's template is this with marker values, so the two cannot drift apart.)"""
        record: dict[str, Any] = {
            "@timestamp": timestamp,
            "message": text,
            "log": {"file": {"path": path}, "offset": offset},
            "host": self.host,
            "service": self.service_field,
            "event": {"id": eid, "dataset": self.dataset},
            "ecs": self.ecs,
        }
        if self.labels is not None:
            record["labels"] = self.labels
        return record

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


def _template(builder: RecordBuilder, path: str, finish: Any = None) -> list[bytes] | None:
    """The record of one file encoded once by encode_json with marker values in the places of
    the per-line fields, cut at the markers: [before timestamp, before message, before offset,
    before event id, after event id]. None if a marker is not found exactly once (then every
    record takes the general path). `finish(record)` adds a format's per-file fields."""
    nonce = os.urandom(8).hex()
    ts, msg, off, eid = (f"kl-{name}-{nonce}" for name in ("ts", "msg", "off", "eid"))
    record = builder.record(path, ts, msg, off, eid)
    if finish is not None:
        finish(record)
    encoded = encode_json(record)
    parts: list[bytes] = []
    for marker in (ts, msg, off, eid):
        quoted = f'"{marker}"'.encode()
        if encoded.count(quoted) != 1:
            return None
        before, encoded = encoded.split(quoted)
        parts.append(before)
    parts.append(encoded)
    return parts


class FileEncoder:
    """Messages for the lines of one file generation.

    Fast path (plain text, no flags, key constant): the record is spliced from the file's
    pre-encoded static JSON and per-line pieces: orjson.dumps(text) and the offset digits.
    The result is byte-for-byte what encode_json(record dict) gives (proven in
    tests/unit/shipper/test_records.py); the event id is line_event_id's per-file prefix
    joined with the offset, so no hash per line.
    """

    def __init__(self, builder: RecordBuilder, path: str, identity: str) -> None:
        self.builder = builder
        self.path = path
        self.identity = identity
        prefix = line_event_id(builder.hostname, identity, 0)
        if not prefix.endswith("-0"):
            raise AssertionError("line_event_id must end with the offset")
        self.eid_prefix = prefix[:-1].encode()
        self.key = builder.constant_key
        (self.encoding_header,) = builder.header_prefix
        template = _template(builder, path)
        self.fast = template is not None and builder.parse is None and builder.key_of is None
        if template is not None:
            self.head, self.before_message, before_offset, before_eid, after_eid = template
            self.before_offset = before_offset
            self.before_eid = before_eid + b'"' + self.eid_prefix
            self.after_eid = b'"' + after_eid
        # The compiled splicer (kafka_logging.speedups): the same messages as _splice below
        # (tests/unit/speedups); None on the pure-Python path.
        self.splicer: Splicer | None = None
        if self.fast and native is not None:
            self.splicer = native.Splicer(
                self.before_offset,
                self.before_eid,
                self.after_eid,
                self.eid_prefix,
                self.key,
                self.encoding_header,
                HEADER_EVENT_ID,
            )

    def __call__(self, start: int, text: str, flags: tuple[str, ...], timestamp: str) -> Message:
        """One record (the general path)."""
        return self.builder.build(self.path, self.identity, start, text, flags, timestamp)

    def one(self, event: Event, timestamp: str) -> Message:
        """The record of one event (the general path)."""
        return self.builder.build(self.path, self.identity, event[0], event[2], event[3], timestamp)

    def fit(self, event: Event, timestamp: str, limit: int) -> tuple[Message, int]:
        """The record of an event whose record is over the producer's size limit: its message
        cut until the value is at most `limit` bytes, flagged "truncated". Returns it and the
        number of bytes of text dropped. (A line under max_line_bytes can still make a record
        over Kafka's message.max.bytes: JSON escaping, the static fields, parsed fields.)"""
        start, end, text, flags, *more = event
        cut = len(text)
        flags = (*flags, "truncated")
        while True:
            message = self.one((start, end, text[:cut], flags, *more), timestamp)
            size = len(message[0])
            if size <= limit or cut == 0:
                return message, len(text[cut:].encode("utf-8", "replace"))
            cut = max(0, min(cut - 1, cut * limit // size * 9 // 10))

    def batch(self, events: Sequence[Event], timestamp: str) -> list[Message]:
        """The messages of `events` (Lines), in order, all stamped `timestamp`."""
        if not self.fast:
            build = self.builder.build
            path, identity = self.path, self.identity
            return [build(path, identity, e[0], e[2], e[3], timestamp) for e in events]
        head = self.head + orjson.dumps(timestamp) + self.before_message
        if self.splicer is not None:
            return self.splicer.batch(events, head, self._slow(timestamp))
        return self._splice(events, head, timestamp)

    def _slow(self, timestamp: str) -> Any:
        """builder.build for one line of this file: (start, text, flags) -> Message."""
        build, path, identity = self.builder.build, self.path, self.identity
        return lambda start, text, flags: build(path, identity, start, text, flags, timestamp)

    def _splice(self, events: Sequence[Event], head: bytes, timestamp: str) -> list[Message]:
        """The fast path in Python: `head` is the record up to its message."""
        before_offset, before_eid, after_eid = self.before_offset, self.before_eid, self.after_eid
        eid_prefix, key, enc = self.eid_prefix, self.key, self.encoding_header
        dumps, join, slow = orjson.dumps, b"".join, self.builder.build
        out: list[Message] = []
        append = out.append
        for start, _end, text, flags in events:
            if flags:
                append(slow(self.path, self.identity, start, text, flags, timestamp))
                continue
            try:
                message = dumps(text)
            except orjson.JSONEncodeError:  # not valid Unicode: encode_json knows what to do
                append(slow(self.path, self.identity, start, text, flags, timestamp))
                continue
            off = b"%d" % start
            append(
                (
                    join((head, message, before_offset, off, before_eid, off, after_eid)),
                    key,
                    [enc, (HEADER_EVENT_ID, eid_prefix + off)],
                )
            )
        return out


class ContainerEncoder(FileEncoder):
    """Messages for the ContainerLines of one container log file (shipper/container.py).

    The record is the plain line's record with: `@timestamp` the runtime's time (the app's own
    JSON timestamp, when the parser finds one, wins), `stream`, `log.offset` and `event.id`
    from the first physical line's offset (so a re-read gives the same id), the path's
    kubernetes.* / container.* fields, and service.name / event.dataset rendered for this
    file. Like every field the shipper owns, they win over the app's fields of the same name.
    """

    def __init__(self, builder: RecordBuilder, path: str, identity: str, meta: PathMeta) -> None:
        super().__init__(builder, path, identity)
        self.fast = False
        self.static = meta.fields() if builder.container.metadata else {}
        service = self.service_name = builder.service_of(meta)
        self.service_field = {"name": service}
        self.app_service = builder.container.service_from_app
        self.dataset = builder.dataset_of(meta)
        self.key = service.encode() if builder.constant_key is not None else None
        self.hostname = builder.hostname
        # Fast path (no parser, key constant): one template per stream, as FileEncoder's.
        self.templates: dict[str, list[bytes]] = {}
        if builder.parse is None and builder.key_of is None:
            for stream in ("stdout", "stderr"):
                template = _template(builder, path, self._finisher(stream))
                if template is not None:
                    head, before_message, before_offset, before_eid, after_eid = template
                    self.templates[stream] = [
                        head + b'"',
                        b'"' + before_message,
                        before_offset,
                        before_eid + b'"' + self.eid_prefix,
                        b'"' + after_eid,
                    ]

    def _finisher(self, stream: str) -> Any:
        def finish(record: dict[str, Any]) -> None:
            record["event"]["dataset"] = self.dataset
            record["stream"] = stream
            record.update(self.static)
            record["service"] = self.service_field

        return finish

    def one(self, event: Event, timestamp: str) -> Message:
        builder = self.builder
        _start, _end, text, flags, offset, time, stream = event
        eid = line_event_id(self.hostname, self.identity, offset)
        record = builder.record(self.path, time or timestamp, text, offset, eid)
        record["event"]["dataset"] = self.dataset
        record["stream"] = stream
        record.update(self.static)
        log: dict[str, Any] = record["log"]
        key = self.key
        if builder.parse is not None:
            if self.app_service:  # the app's service.name (if any) survives the merge
                del record["service"]
                record, log, flags = builder._parsed(record, text, flags, builder.parse)
                service = record.get("service")
                if not isinstance(service, dict):
                    service = record["service"] = {}
                name = service.setdefault("name", self.service_name)
                if key is not None:
                    key = str(name).encode()
            else:
                record["service"] = self.service_field
                record, log, flags = builder._parsed(record, text, flags, builder.parse)
        else:
            record["service"] = self.service_field
        if flags:
            log["flags"] = list(flags)
        if builder.key_of is not None:
            key = builder.key_of(record)
        return encode_json(record), key, [*builder.header_prefix, (HEADER_EVENT_ID, eid.encode())]

    def batch(self, events: Sequence[Event], timestamp: str) -> list[Message]:
        """The messages of `events`; plain lines of a known stream with a runtime time are
        spliced from the stream's template (byte-equal to one(), proven in the unit tests)."""
        one = self.one
        templates = self.templates
        if not templates:
            return [one(event, timestamp) for event in events]
        key, enc = self.key, self.encoding_header
        dumps, join = orjson.dumps, b"".join
        out: list[Message] = []
        append = out.append
        for event in events:
            _start, _end, text, flags, offset, time, stream = event
            parts = templates.get(stream)
            if flags or time is None or parts is None:
                append(one(event, timestamp))
                continue
            try:
                message = dumps(text)
            except orjson.JSONEncodeError:  # not valid Unicode: encode_json knows what to do
                append(one(event, timestamp))
                continue
            head, before_message, before_offset, before_eid, after_eid = parts
            off = b"%d" % offset
            value = join(
                (head, time.encode(), before_message, message, before_offset, off, before_eid)
            )
            append((value + off + after_eid, key, [enc, (HEADER_EVENT_ID, self.eid_prefix + off)]))
        return out
