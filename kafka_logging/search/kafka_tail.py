"""A live stream of records straight from Kafka, for `kafka-logging tail`.

It assigns every partition of the topic itself (no consumer group joins, no offset is ever
committed, so tailing never disturbs the indexers) at the current end -- resolved before
`start()` returns, so everything produced afterwards is seen -- or at the beginning.
Messages that are not records are reported through `warn` and skipped, never fatal.
Dead letters are shown once per `kl.dlq.id` (a record re-read after a rebalance can be
dead-lettered twice; both copies carry the same id): repeats are skipped and counted.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from kafka_logging.errors import FatalError
from kafka_logging.wire.dead_letter import dead_letter_id_of
from kafka_logging.wire.record import Record, RecordDecodeError, decode

DEFAULT_TOPIC = "application-logs"
WARN_EVERY = 30.0  # seconds between two warnings about an unreachable broker
# Dead-letter ids remembered for deduplication (repeats come within one rebalance of each
# other; the oldest are forgotten past this many).
SEEN_DEAD_LETTERS = 100_000


def _any(record: Record) -> bool:
    return True


class TailError(FatalError):
    """Tailing cannot start or go on; the message says why in one line."""


def consumer_config(client_config: dict[str, Any]) -> dict[str, Any]:
    """librdkafka settings for a consumer that never commits and never joins a group."""
    return {
        **client_config,
        # librdkafka wants a group.id even with assign(); nothing is joined or committed.
        "group.id": f"kafka-logging-tail-{uuid.uuid4().hex[:12]}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "latest",
        "enable.partition.eof": False,
        # Connection failures come back through error_cb / exceptions, not as stderr noise.
        "log_level": 0,
    }


class KafkaTail:
    """Reads one topic from its end (or beginning) and yields decoded records."""

    def __init__(
        self,
        config: dict[str, Any],
        topic: str = DEFAULT_TOPIC,
        *,
        from_beginning: bool = False,
        since: datetime | None = None,
        timeout: float = 10.0,
        warn: Callable[[str], None] = lambda _: None,
        consumer_factory: Callable[[dict[str, Any]], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        metadata_interval: float = 30.0,
    ) -> None:
        from confluent_kafka import Consumer, KafkaException  # noqa: PLC0415 - only tail pays

        self._topic = topic
        if from_beginning and since is not None:
            raise ValueError("from_beginning and since exclude each other")
        self._from_beginning = from_beginning
        self._since = since
        self._timeout = timeout
        self._warn = warn
        self._bootstrap = str(config.get("bootstrap.servers", "?"))
        full = consumer_config(config)
        full["error_cb"] = self._on_error
        try:
            self._consumer = (consumer_factory or Consumer)(full)
        except KafkaException as exc:
            raise TailError(f"invalid Kafka client settings: {_describe(exc)}") from None
        self._clock = clock
        self._metadata_interval = metadata_interval
        self._partitions: set[int] = set()
        self._checked_at = 0.0
        self._last_error: str | None = None  # the newest broker error not reported yet
        self._warned_at: float | None = None
        self._seen: dict[str, None] = {}  # dead-letter ids shown, oldest first
        self.repeated_dead_letters = 0

    def _on_error(self, error: Any) -> None:
        # Served from consume(); librdkafka reconnects by itself, so these are reported
        # (rate-limited) rather than raised.
        self._last_error = str(error.str())

    def _report_broker_errors(self) -> None:
        if self._last_error is None:
            return
        now = self._clock()
        if self._warned_at is None or now - self._warned_at >= WARN_EVERY:
            self._warn(f"Kafka at {self._bootstrap}: {self._last_error} (retrying)")
            self._warned_at = now
        self._last_error = None

    def _unreachable(self, exc: Any) -> TailError:
        detail = _describe(exc)
        if self._last_error:
            detail = f"{detail}; {self._last_error}"
        return TailError(
            f"cannot reach Kafka at {self._bootstrap} within {self._timeout:g}s"
            f" -- is the broker running? (--bootstrap-servers / KAFKA_BOOTSTRAP_SERVERS): {detail}"
        )

    def start(self) -> int:
        """Assign every partition at its end (or beginning, or first record since `since`);
        the number of partitions.

        Raises TailError when Kafka does not answer within `timeout` or the topic is unknown.
        """
        from confluent_kafka import (  # noqa: PLC0415
            OFFSET_BEGINNING,
            KafkaError,
            KafkaException,
            TopicPartition,
        )

        try:
            metadata = self._consumer.list_topics(self._topic, timeout=self._timeout)
        except KafkaException as exc:
            raise self._unreachable(exc) from None
        described = metadata.topics.get(self._topic)
        if described is None or described.error is not None:
            code = described.error.code() if described is not None else None
            if code == KafkaError.UNKNOWN_TOPIC_OR_PART or described is None:
                raise TailError(f"topic {self._topic!r} does not exist at {self._bootstrap}")
            raise TailError(f"topic {self._topic!r} at {self._bootstrap}: {described.error.str()}")
        partitions = sorted(described.partitions)
        if not partitions:
            raise TailError(f"topic {self._topic!r} at {self._bootstrap} has no partitions")
        if self._from_beginning:
            assignment = [TopicPartition(self._topic, p, OFFSET_BEGINNING) for p in partitions]
        else:
            assignment = self._end_offsets(partitions)
            if self._since is not None:
                assignment = self._offsets_since(assignment, self._since)
        self._consumer.assign(assignment)
        self._partitions = set(partitions)
        self._checked_at = self._clock()
        self._last_error = None
        return len(partitions)

    def _follow_new_partitions(self) -> None:
        """Every `metadata_interval` seconds, assign partitions added to the topic since (from
        their beginning: everything routed to them is new), so scaling out hides nothing."""
        now = self._clock()
        if not self._partitions or now - self._checked_at < self._metadata_interval:
            return
        self._checked_at = now
        from confluent_kafka import OFFSET_BEGINNING, KafkaException, TopicPartition  # noqa: PLC0415

        try:
            metadata = self._consumer.list_topics(self._topic, timeout=self._timeout)
        except KafkaException:
            return  # unreachable for now: the broker errors are reported by error_cb
        described = metadata.topics.get(self._topic)
        if described is None or described.error is not None:
            return
        added = sorted(set(described.partitions) - self._partitions)
        if added:
            self._consumer.incremental_assign(
                [TopicPartition(self._topic, p, OFFSET_BEGINNING) for p in added]
            )
            self._partitions.update(added)
            self._warn(f"{self._topic} has new partition(s) {added}; reading them too")

    def _end_offsets(self, partitions: list[int]) -> list[Any]:
        """Each partition at its high watermark, resolved now: whatever is produced after
        start() returns is read."""
        from confluent_kafka import KafkaException, TopicPartition  # noqa: PLC0415

        assignment = []
        for partition in partitions:
            try:
                _, high = self._consumer.get_watermark_offsets(
                    TopicPartition(self._topic, partition), timeout=self._timeout
                )
            except KafkaException as exc:
                raise self._unreachable(exc) from None
            assignment.append(TopicPartition(self._topic, partition, high))
        return assignment

    def _offsets_since(self, ends: list[Any], since: datetime) -> list[Any]:
        """Each partition at its first message stamped at or after `since` (Kafka's message
        timestamp), or at its end when there is none."""
        from confluent_kafka import KafkaException, TopicPartition  # noqa: PLC0415

        millis = int(since.timestamp() * 1000)
        query = [TopicPartition(self._topic, tp.partition, millis) for tp in ends]
        try:
            found = self._consumer.offsets_for_times(query, timeout=self._timeout)
        except KafkaException as exc:
            raise self._unreachable(exc) from None
        by_partition = {tp.partition: tp for tp in found}
        assignment = []
        for end in ends:
            hit = by_partition.get(end.partition)
            if hit is not None and hit.error is not None:
                raise TailError(
                    f"cannot find offsets by time in {self._topic}[{end.partition}]: "
                    f"{hit.error.str()}"
                )
            offset = hit.offset if hit is not None and hit.offset >= 0 else end.offset
            assignment.append(TopicPartition(self._topic, end.partition, offset))
        return assignment

    def batches(
        self, stop: threading.Event, size: int = 500, matches: Callable[[Record], bool] = _any
    ) -> Iterator[list[Record]]:
        """Lists of decoded records that satisfy `matches`, one per fetch, as they arrive,
        until `stop` is set (checked at least twice a second). Empty fetches yield nothing."""
        while not stop.is_set():
            messages = self._consumer.consume(size, timeout=0.5)
            self._report_broker_errors()
            self._follow_new_partitions()
            batch = []
            for message in messages:
                record = self._decode(message)
                if record is not None and matches(record):
                    batch.append(record)
            if batch:
                yield batch

    def _decode(self, message: Any) -> Record | None:
        error = message.error()
        if error is not None:
            if error.fatal():
                raise TailError(f"Kafka at {self._bootstrap}: {error.str()}")
            self._warn(f"Kafka at {self._bootstrap}: {error.str()}")
            return None
        headers = _header_list(message.headers())
        if headers and self._repeated(headers):
            return None
        try:
            return decode(message.value(), headers)
        except RecordDecodeError as exc:
            self._warn(
                f"skipped undecodable message at {message.topic()}"
                f"[{message.partition()}]@{message.offset()}: {exc}"
            )
            return None

    def _repeated(self, headers: list[tuple[str, bytes | str | None]]) -> bool:
        """True for a dead letter whose kl.dlq.id was shown already (counted, reported once)."""
        dlq_id = dead_letter_id_of(headers)
        if dlq_id is None:
            return False
        if dlq_id in self._seen:
            if self.repeated_dead_letters == 0:
                self._warn(
                    f"{self._topic}: {dlq_id} was dead-lettered again (re-read after a"
                    " rebalance); repeated dead letters are shown once"
                )
            self.repeated_dead_letters += 1
            return True
        self._seen[dlq_id] = None
        if len(self._seen) > SEEN_DEAD_LETTERS:
            del self._seen[next(iter(self._seen))]
        return False

    def close(self) -> None:
        """Leave without committing anything."""
        self._consumer.close()


def _header_list(headers: Any) -> list[tuple[str, bytes | str | None]] | None:
    """confluent-kafka gives headers as a list of pairs (or None); accept a dict too."""
    if headers is None:
        return None
    if isinstance(headers, dict):
        return list(headers.items())
    return list(headers)


def _describe(exc: Exception) -> str:
    """The text of a KafkaException (its KafkaError's str()), or of any exception."""
    first: Any = exc.args[0] if exc.args else None
    return str(first.str()) if hasattr(first, "str") else str(exc)
