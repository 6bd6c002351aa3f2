"""From a Kafka message to a bulk document: decode, choose the daily index, choose the `_id`.

- The index comes from the record's own `@timestamp` (UTC) through the strftime pattern, so a
  replay lands in the same index and answers 409. A record without a usable `@timestamp` is
  routed by the Kafka message timestamp (as deterministic across replays); Elasticsearch then
  judges the field itself (a malformed one is a mapping error: dead-lettered).
- `_id` is `event.id`, else `<topic>-<partition>-<offset>`.
- A JSON value is sent as it arrived (no re-serialisation); other encodings are re-encoded
  as JSON with kafka_logging.wire.record.encode_json.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from indexer.bulk import Doc, action_line
from indexer.tracker import TopicPartition
from kafka_logging.wire import record as wire

_MAX_CACHE = 4096
_JSON = wire.Encoding.JSON.value
_CONFLUENT = wire.Encoding.AVRO_CONFLUENT.value
_OVERHEAD = 700  # bytes per Doc beyond its payloads: object, action line, headers, tuples


class Router:
    """Builds Docs; decode errors propagate as kafka_logging.wire.record.RecordDecodeError."""

    def __init__(
        self, pattern: str, confluent_avro: Callable[[bytes], wire.Record] | None = None
    ) -> None:
        self._pattern = pattern
        self._confluent_avro = confluent_avro
        self._by_day: dict[str, str] = {}

    def index_for_day(self, day: date) -> str:
        return day.strftime(self._pattern)

    def _index_from_utc_prefix(self, prefix: str) -> str:
        name = self._by_day.get(prefix)
        if name is None:
            name = self.index_for_day(date.fromisoformat(prefix))
            if len(self._by_day) >= _MAX_CACHE:
                self._by_day.clear()
            self._by_day[prefix] = name
        return name

    def route(self, timestamp: Any, kafka_ms: int) -> tuple[str, float | None]:
        """(index name, @timestamp as epoch seconds or None) for one record."""
        if isinstance(timestamp, str) and len(timestamp) >= 10:
            try:
                moment = datetime.fromisoformat(timestamp)
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=UTC)
                epoch = moment.timestamp()
                if timestamp.endswith(("Z", "+00:00")):
                    return self._index_from_utc_prefix(timestamp[:10]), epoch
                return self.index_for_day(moment.astimezone(UTC).date()), epoch
            except ValueError:
                pass
        elif isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool):
            try:  # epoch milliseconds, as Elasticsearch reads a number in a date field
                moment = datetime.fromtimestamp(timestamp / 1000, UTC)
                return self.index_for_day(moment.date()), moment.timestamp()
            except (OverflowError, OSError, ValueError):
                pass
        return self.index_for_day(datetime.fromtimestamp(kafka_ms / 1000, UTC).date()), None

    def build(
        self,
        tp: TopicPartition,
        offset: int,
        generation: int,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None,
        kafka_ms: int,
    ) -> Doc:
        """The bulk document for one message. Raises RecordDecodeError (dead-letter it) or
        RetryableError (the schema registry could not be reached: try again)."""
        encoding = wire.header(headers, wire.HEADER_ENCODING) if headers else None
        if value is not None and encoding in (None, _JSON):
            record = wire.decode_json(value)
            # Raw newlines in valid JSON are whitespace: fold them so NDJSON stays one line.
            source = value.replace(b"\n", b" ") if b"\n" in value else value
        elif encoding == _CONFLUENT and self._confluent_avro is not None and value is not None:
            record = self._confluent_avro(value)
            source = bytes(memoryview(wire.encode_json(record)))
        else:
            record = wire.decode(value, headers)
            # A right-sized copy: orjson's output buffer is ~4 KiB whatever the length.
            source = bytes(memoryview(wire.encode_json(record)))
        index, event_time = self.route(record.get("@timestamp"), kafka_ms)
        event = record.get("event")
        doc_id = event.get("id") if type(event) is dict else None
        if type(doc_id) is not str or not doc_id or len(doc_id) > 512:
            doc_id = f"{tp[0]}-{tp[1]}-{offset}"
        size = len(source) if source is value else len(source) + len(value or b"")
        return Doc(
            tp=tp,
            offset=offset,
            generation=generation,
            action=action_line(index, doc_id),
            source=source,
            value=value,
            key=key,
            headers=headers,
            event_time=event_time,
            size=size + _OVERHEAD,
        )
