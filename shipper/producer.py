"""The Kafka side: an idempotent, acks=all confluent-kafka producer and its delivery reports.

Delivery reports are served by poll() on the shipper's own thread. librdkafka's message
timeout (output.delivery_timeout_seconds) only turns a long outage into a *failed* report; the
shipper then re-reads those records from the file, so an outage never becomes loss. A fatal
producer error (e.g. an idempotence sequence failure) fails every in-flight record the same
way and the producer is rebuilt.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaError, KafkaException, Producer

from kafka_logging.errors import FatalError, RetryableError
from kafka_logging.kafka_diag import client_logger
from shipper.config import ShipperConfig

if TYPE_CHECKING:
    from shipper.reader import Event
    from shipper.records import FileEncoder, Message

log = logging.getLogger(__name__)

DeliveryCallback = Callable[[Any, Any], None]

# confluent-kafka parses produce()'s keyword arguments slowly (keywords cost ~0.8 us a call,
# a quarter of the shipper's per-line budget). Positionally its parameters are
# (topic, value, key, partition, on_delivery, callback, timestamp, headers): `callback` is
# on_delivery's alias (None), timestamp 0 means "now". tests/unit/shipper/test_producer.py
# and the integration tests (headers, keys, values read back from Kafka) pin this order.
PARTITION_ANY = -1  # librdkafka's RD_KAFKA_PARTITION_UA: the configured partitioner chooses
NOW = 0

# Settings the shipper's guarantees depend on: the librdkafka passthrough cannot change them.
FORCED = {"enable.idempotence": True, "acks": "all"}


def producer_config(config: ShipperConfig) -> dict[str, Any]:
    out = config.output
    settings: dict[str, Any] = {
        "linger.ms": out.linger_ms,
        "compression.type": out.compression,
        "message.timeout.ms": int(out.delivery_timeout_seconds * 1000),
        "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": max(
            1024 * 1024, 2 * config.limits.max_in_flight_bytes // 1024
        ),
        "batch.size": 1_000_000,
        "client.id": "kafka-logging-shipper",
    }
    settings.update(config.kafka.producer_config())
    settings.update(FORCED)
    return settings


@dataclass
class Progress:
    """How far KafkaSink.produce_all got with a batch."""

    count: int = 0  # records produced
    nbytes: int = 0  # their bytes
    dropped: int = 0  # bytes of text cut from records over message.max.bytes


def too_large(exc: KafkaException) -> bool:
    """produce() refused a record over message.max.bytes (raised at once, never reported)."""
    err = exc.args[0] if exc.args else None
    return isinstance(err, KafkaError) and err.code() == KafkaError.MSG_SIZE_TOO_LARGE


class KafkaSink:
    """Produces encoded records; poll() serves delivery reports."""

    def __init__(self, config: ShipperConfig, stop: threading.Event | None = None) -> None:
        self.topic = config.output.topic
        self.settings = producer_config(config)
        # What a value may weigh: librdkafka's message.max.bytes less room for key + headers.
        self.max_record_bytes = int(self.settings.get("message.max.bytes", 1_000_000)) - 4096
        self.stop = stop or threading.Event()
        self.fatal: str | None = None
        self._producer = self._make()

    def _error(self, err: KafkaError) -> None:
        if err.fatal():
            self.fatal = err.str()
            log.error("Kafka producer fatal error: %s", err.str())
        elif err.code() == KafkaError._ALL_BROKERS_DOWN:
            log.warning("all Kafka brokers are down: reading pauses until they are back")
        else:
            log.debug("Kafka client error: %s", err.str())

    def _make(self) -> Any:
        try:
            return Producer(
                {"logger": client_logger("shipper.kafka"), **self.settings, "error_cb": self._error}
            )
        except KafkaException as exc:
            raise FatalError(f"cannot create the Kafka producer: {exc}") from None

    def produce(
        self, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]], cb: Any
    ) -> None:
        """Queue one record. Waits (serving reports) while librdkafka's queue is full."""
        produce = self._producer.produce
        while True:
            try:
                produce(self.topic, value, key, PARTITION_ANY, cb, None, NOW, headers)
            except BufferError:
                self._producer.poll(0.05)
                if self.fatal is not None:
                    raise RetryableError(f"producer failed: {self.fatal}") from None
            else:
                return

    @property
    def raw_produce(self) -> Any:
        """The client's own produce(), to be called POSITIONALLY as
        raw_produce(topic, value, key, PARTITION_ANY, on_delivery, None, 0, headers);
        may raise BufferError (then use produce(), which waits)."""
        return self._producer.produce

    def poll(self, timeout: float = 0.0) -> int:
        served: int = self._producer.poll(timeout)
        return served

    def __len__(self) -> int:
        return len(self._producer)

    def rebuild(self) -> None:
        """After a fatal error: fail every queued record (reports fire) and start a new producer."""
        old = self._producer
        try:
            old.purge(in_queue=True, in_flight=True)
        except KafkaException as exc:
            log.warning("purge after fatal error failed: %s", exc)
        old.poll(0)
        old.flush(1.0)
        self.fatal = None
        self._producer = self._make()

    def drain(self, deadline: float, clock: Callable[[], float]) -> int:
        """Serve reports until nothing is in flight or the deadline passes; what is left."""
        while len(self._producer) and clock() < deadline:
            self._producer.poll(min(0.1, max(0.0, deadline - clock())))
        return len(self._producer)

    def close(self) -> None:
        self._producer.poll(0)


def produce_all(
    sink: KafkaSink,
    encoder: FileEncoder,
    events: Sequence[Event],
    timestamp: str,
    cb: Any,
    done: Progress,
) -> list[Message]:
    """Produce the records of `events` (one line each) with `cb` as every record's
    delivery callback; `done` counts how far it got (also when this raises). A record over
    message.max.bytes is shipped cut to fit (logged; its dropped bytes counted in `done`).
    Returns the messages; raises whatever else produce() raises."""
    messages = encoder.batch(events, timestamp)
    produce, topic = sink.raw_produce, sink.topic
    while done.count < len(messages):
        try:
            for value, key, headers in islice(messages, done.count, None):
                try:
                    produce(topic, value, key, PARTITION_ANY, cb, None, NOW, headers)
                except BufferError:
                    sink.produce(value, key, headers, cb)  # waits, serving reports
                done.count += 1
                done.nbytes += len(value)
        except KafkaException as exc:
            if not too_large(exc):
                raise
            event = events[done.count]
            start = event[0]
            (value, key, headers), dropped = encoder.fit(event, timestamp, sink.max_record_bytes)
            log.warning(
                "%s: the record of the line at offset %d was over message.max.bytes; "
                "shipped truncated (%d bytes dropped)",
                encoder.path,
                start,
                dropped,
            )
            done.dropped += dropped
            sink.produce(value, key, headers, cb)
            done.count += 1
            done.nbytes += len(value)
    return messages
