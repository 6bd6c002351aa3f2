"""KafkaTail against a fake consumer: assignment, no commits, decode warnings, errors."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition

from kafka_logging.search.kafka_tail import KafkaTail, TailError, consumer_config
from kafka_logging.wire.record import Encoding, encode_json, headers_for


class FakeMessage:
    def __init__(
        self,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
        error: KafkaError | None = None,
        offset: int = 0,
    ) -> None:
        self._value, self._headers, self._error, self._offset = value, headers, error, offset

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list[tuple[str, bytes]] | None:
        return self._headers

    def error(self) -> KafkaError | None:
        return self._error

    def topic(self) -> str:
        return "logs"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset


class FakeTopic:
    def __init__(self, partitions: int, error: KafkaError | None = None) -> None:
        self.partitions = {p: object() for p in range(partitions)}
        self.error = error


class FakeMetadata:
    def __init__(self, topics: dict[str, FakeTopic]) -> None:
        self.topics = topics


class FakeConsumer:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.topics: dict[str, FakeTopic] = {"logs": FakeTopic(3)}
        self.high = {0: 10, 1: 20, 2: 0}
        self.assigned: list[TopicPartition] = []
        self.batches: list[list[FakeMessage]] = []
        self.unreachable = False
        self.closed = False
        self.commits = 0
        self.stop: threading.Event | None = None

    def list_topics(self, topic: str, timeout: float) -> FakeMetadata:
        if self.unreachable:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT, "Broker transport failure"))
        return FakeMetadata(self.topics)

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float) -> tuple[int, int]:
        return 0, self.high[tp.partition]

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = partitions

    def incremental_assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = [*self.assigned, *partitions]

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        if not self.batches:
            assert self.stop is not None
            self.stop.set()
            return []
        return self.batches.pop(0)

    def commit(self, *args: Any, **kwargs: Any) -> None:
        self.commits += 1

    def close(self) -> None:
        self.closed = True


def make(**kwargs: Any) -> tuple[KafkaTail, FakeConsumer, list[str]]:
    made: list[FakeConsumer] = []
    warnings: list[str] = []

    def factory(config: dict[str, Any]) -> FakeConsumer:
        made.append(FakeConsumer(config))
        return made[0]

    tail = KafkaTail(
        {"bootstrap.servers": "k:9092"},
        "logs",
        warn=warnings.append,
        consumer_factory=factory,
        **kwargs,
    )
    return tail, made[0], warnings


def good(message: str, offset: int = 0) -> FakeMessage:
    return FakeMessage(
        encode_json({"message": message}), headers_for(Encoding.JSON, "id"), offset=offset
    )


def test_consumer_never_commits_and_joins_no_shared_group() -> None:
    """Auto-commit and offset store are off; the group id is unique to this run."""
    a, b = consumer_config({"bootstrap.servers": "x"}), consumer_config({})
    assert a["enable.auto.commit"] is False
    assert a["enable.auto.offset.store"] is False
    assert a["group.id"] != b["group.id"]
    assert a["group.id"].startswith("kafka-logging-tail-")


def test_start_assigns_every_partition_at_its_high_watermark() -> None:
    """From the end: each partition at the offset its next message will get."""
    tail, consumer, _ = make()
    assert tail.start() == 3
    assert [(tp.partition, tp.offset) for tp in consumer.assigned] == [(0, 10), (1, 20), (2, 0)]


def test_from_beginning_assigns_offset_beginning() -> None:
    """--from-beginning: every partition from its oldest retained record."""
    tail, consumer, _ = make(from_beginning=True)
    tail.start()
    assert {tp.offset for tp in consumer.assigned} == {OFFSET_BEGINNING}


def test_records_decoded_undecodable_warned_and_skipped() -> None:
    """Good messages are yielded; a bad one is a one-line warning naming its offset."""
    tail, consumer, warnings = make()
    consumer.batches = [[good("a"), FakeMessage(b"not json", offset=7), good("b")]]
    tail.start()
    consumer.stop = threading.Event()
    assert [[r["message"] for r in b] for b in tail.batches(consumer.stop)] == [["a", "b"]]
    assert len(warnings) == 1
    assert warnings[0].startswith("skipped undecodable message at logs[0]@7: value is not JSON")
    assert consumer.commits == 0


def test_tombstone_is_warned_not_fatal() -> None:
    """A message without a value is reported and skipped."""
    tail, consumer, warnings = make()
    consumer.batches = [[FakeMessage(None, offset=3)]]
    consumer.stop = threading.Event()
    assert list(tail.batches(consumer.stop)) == []
    assert "tombstone" in warnings[0]


def test_unreachable_kafka_is_a_clear_error() -> None:
    """No answer within the timeout: TailError naming the bootstrap servers and the timeout."""
    tail, consumer, _ = make(timeout=2)
    consumer.unreachable = True
    with pytest.raises(TailError, match=r"cannot reach Kafka at k:9092 within 2s"):
        tail.start()


def test_unknown_topic_is_a_clear_error() -> None:
    """A topic the broker does not know is named."""
    tail, consumer, _ = make()
    consumer.topics = {"logs": FakeTopic(0, KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART))}
    with pytest.raises(TailError, match="topic 'logs' does not exist at k:9092"):
        tail.start()


def test_broker_errors_are_reported_rate_limited() -> None:
    """Broker errors while tailing are warnings, at most one per 30 s of the clock."""
    now = [0.0]
    tail, consumer, warnings = make(clock=lambda: now[0])
    consumer.batches = [[], [], []]
    stop = threading.Event()
    consumer.stop = stop
    records = tail.batches(stop)
    for step in (0.0, 10.0, 40.0):
        now[0] = step
        tail._on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
        consumer.batches.insert(0, [good("x")])
        next(records)
    assert len(warnings) == 2
    assert warnings[0] == "Kafka at k:9092: 1/1 brokers are down (retrying)"


def test_fatal_consumer_error_stops_tail() -> None:
    """A fatal librdkafka error raises TailError rather than looping."""
    tail, consumer, _ = make()
    consumer.batches = [
        [FakeMessage(None, error=KafkaError(KafkaError._FATAL, "fenced", fatal=True))]
    ]
    consumer.stop = threading.Event()
    with pytest.raises(TailError, match="fenced"):
        list(tail.batches(consumer.stop))


def test_close_closes_consumer() -> None:
    """close() closes the consumer (nothing to commit)."""
    tail, consumer, _ = make()
    tail.close()
    assert consumer.closed
    assert consumer.commits == 0


def test_batches_apply_the_matcher_and_skip_empty_fetches() -> None:
    """Only matching records are yielded, one list per fetch; empty fetches yield nothing."""
    tail, consumer, _ = make()
    consumer.batches = [[good("keep 1"), good("drop")], [], [good("drop")], [good("keep 2")]]
    consumer.stop = threading.Event()
    got = list(tail.batches(consumer.stop, matches=lambda r: r["message"].startswith("keep")))
    assert [[r["message"] for r in b] for b in got] == [["keep 1"], ["keep 2"]]


def test_since_starts_at_offsets_for_times_or_the_end() -> None:
    """--since: each partition at Kafka's first offset at/after the time; a partition with
    nothing that recent starts at its end."""
    from datetime import UTC, datetime

    asked: list[TopicPartition] = []

    def offsets_for_times(query: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        asked.extend(query)
        found = {0: 4, 1: -1, 2: 0}
        return [TopicPartition(tp.topic, tp.partition, found[tp.partition]) for tp in query]

    since = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
    tail, consumer, _ = make(since=since)
    consumer.offsets_for_times = offsets_for_times  # type: ignore[attr-defined]
    tail.start()
    assert {tp.offset for tp in asked} == {int(since.timestamp() * 1000)}
    assert [(tp.partition, tp.offset) for tp in consumer.assigned] == [(0, 4), (1, 20), (2, 0)]


def test_since_and_from_beginning_exclude_each_other() -> None:
    """Asking for both is a programming error."""
    from datetime import UTC, datetime

    with pytest.raises(ValueError, match="exclude each other"):
        make(from_beginning=True, since=datetime(2026, 1, 1, tzinfo=UTC))


def test_partitions_added_later_are_read_from_their_beginning() -> None:
    """After metadata_interval, partitions added to the topic are assigned at their start and
    announced on stderr; before it, metadata is not asked again."""
    now = [0.0]
    tail, consumer, warnings = make(clock=lambda: now[0], metadata_interval=30)
    tail.start()
    consumer.topics = {"logs": FakeTopic(5)}
    consumer.high.update({3: 0, 4: 0})
    stop = threading.Event()
    consumer.stop = stop
    consumer.batches = [[good("a")], [good("b")]]
    batches = tail.batches(stop)
    now[0] = 10.0
    next(batches)
    assert len(consumer.assigned) == 3
    now[0] = 31.0
    next(batches)
    assert [(tp.partition, tp.offset) for tp in consumer.assigned[3:]] == [
        (3, OFFSET_BEGINNING),
        (4, OFFSET_BEGINNING),
    ]
    assert warnings == ["logs has new partition(s) [3, 4]; reading them too"]
