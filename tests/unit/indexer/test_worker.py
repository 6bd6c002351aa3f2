"""The Indexer loop with a fake consumer, producer and Elasticsearch: commits, rebalances,
pausing, retries. (Fakes prove the logic only; the integration tests prove it with Kafka/ES.)"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from confluent_kafka import TopicPartition

from indexer.bulk import backoff
from indexer.config import IndexerConfig
from indexer.consumer import Indexer
from kafka_logging import config as shared
from kafka_logging.wire.record import encode_json

pytestmark = pytest.mark.timeout(30)
TOPIC = "logs"


@dataclass
class Msg:
    part: int
    off: int
    val: bytes | None

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return TOPIC

    def partition(self) -> int:
        return self.part

    def offset(self) -> int:
        return self.off

    def value(self) -> bytes | None:
        return self.val

    def key(self) -> None:
        return None

    def headers(self) -> None:
        return None

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_700_000_000_000)


def record(part: int, off: int) -> bytes:
    return encode_json(
        {"@timestamp": "2026-11-22T00:00:00.000000Z", "event": {"id": f"{part}-{off}"}}
    )


@dataclass
class FakeConsumer:
    """Hands out scripted batches; `script[i]` (a callable) runs at the i-th consume()."""

    batches: list[list[Msg]] = field(default_factory=list)
    script: dict[int, Callable[[FakeConsumer], None]] = field(default_factory=dict)
    commits: list[tuple[dict[tuple[str, int], int], bool]] = field(default_factory=list)
    paused: set[tuple[str, int]] = field(default_factory=set)
    pause_log: list[str] = field(default_factory=list)
    calls: int = 0
    callbacks: dict[str, Any] = field(default_factory=dict)
    stop: Callable[[], None] | None = None
    stop_when: Callable[[], bool] = lambda: False

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        self.callbacks = callbacks

    def assign(self, *parts: int) -> None:
        self.callbacks["on_assign"](self, [TopicPartition(TOPIC, p) for p in parts])

    def revoke(self, *parts: int) -> None:
        self.callbacks["on_revoke"](self, [TopicPartition(TOPIC, p) for p in parts])

    def lose(self, *parts: int) -> None:
        self.callbacks["on_lost"](self, [TopicPartition(TOPIC, p) for p in parts])

    def consume(self, _n: int, timeout: float) -> list[Msg]:
        self.calls += 1
        action = self.script.get(self.calls)
        if action is not None:
            action(self)
        if self.stop_when() and self.stop is not None:
            self.stop()
        if self.batches:
            return [m for m in self.batches.pop(0) if (TOPIC, m.part) not in self.paused]
        threading.Event().wait(min(timeout, 0.005))
        return []

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> Any:
        self.commits.append(({(o.topic, o.partition): o.offset for o in offsets}, asynchronous))
        return None if asynchronous else offsets

    def pause(self, parts: list[TopicPartition]) -> None:
        self.paused |= {(p.topic, p.partition) for p in parts}
        self.pause_log.append("pause")

    def resume(self, parts: list[TopicPartition]) -> None:
        self.paused -= {(p.topic, p.partition) for p in parts}
        self.pause_log.append("resume")

    def get_watermark_offsets(self, _tp: TopicPartition, cached: bool) -> tuple[int, int]:
        return (0, -1)

    def close(self) -> None:
        return None

    def committed_position(self, part: int) -> int | None:
        found = None
        for offsets, _ in self.commits:
            found = offsets.get((TOPIC, part), found)
        return found


@dataclass
class FakeProducer:
    produced: list[dict[str, Any]] = field(default_factory=list)
    pending: list[Callable[[Any, Any], None]] = field(default_factory=list)

    def produce(self, topic: str, on_delivery: Callable[[Any, Any], None], **kw: Any) -> None:
        self.produced.append({"topic": topic, **kw})
        self.pending.append(on_delivery)

    def poll(self, _timeout: float) -> int:
        pending, self.pending = self.pending, []
        for callback in pending:
            callback(None, None)
        return len(pending)

    def flush(self, _timeout: float) -> int:
        self.poll(0)
        return 0


class FakeES:
    """Answers each bulk item by `verdict(id) -> (status, error type)`; or raises when down."""

    def __init__(self, verdict: Callable[[str], tuple[int, str | None]]) -> None:
        self.verdict = verdict
        self.down = False
        self.sent: list[str] = []
        self.lock = threading.Lock()

    url = "http://fake:9200"

    def engine(self) -> Any:
        from kafka_logging.engines.engine import Engine

        return Engine("elasticsearch", "9.2.0")

    def bulk(self, operations: bytes, **_: Any) -> Any:
        from kafka_logging.engines.client import EngineUnreachable

        if self.down:
            raise EngineUnreachable("cannot reach the search engine at fake: refused")
        lines = operations.split(b"\n")
        items = []
        for action in lines[0:-1:2]:
            doc_id = orjson.loads(action)["create"]["_id"]
            with self.lock:
                self.sent.append(doc_id)
            status, err = self.verdict(doc_id)
            items.append({"create": {"status": status, "error": {"type": err, "reason": "r"}}})
        return {"errors": True, "items": items}


def make(
    fake: FakeConsumer, es: FakeES, producer: FakeProducer | None = None, **sections: Any
) -> Indexer:
    data: dict[str, Any] = {
        "index": {"install_template": False, "pattern": "logs-%Y.%m.%d"},
        "metrics": {"enabled": False},
        "batch": {"max_wait": 0.01, "max_docs": 100},
        "retry": {"initial_backoff": 0.01, "max_backoff": 0.02},
        "consumer": {"revoke_timeout": 0.3, "commit_interval": 0.05},
        "shutdown_timeout": 0.5,
    }
    for key, value in sections.items():
        data.setdefault(key, {}).update(value)
    config = shared.parse(data, IndexerConfig, environ={})
    indexer = Indexer(
        config,
        consumer=fake,
        producer=producer or FakeProducer(),
        es=es,  # type: ignore[arg-type]
        jitter=lambda: 1.0,
    )
    fake.stop = indexer.stop
    return indexer


def ok(_id: str) -> tuple[int, str | None]:
    return 201, None


def test_backoff_is_capped_exponential_with_jitter() -> None:
    """0.1, 0.2, 0.4, then capped at 0.5; scaled by the jitter draw."""
    delays = [backoff(n, 0.1, 0.5, 1.0) for n in range(1, 6)]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])
    assert backoff(3, 0.1, 0.5, 0.25) == pytest.approx(0.1)


def test_commit_stops_at_a_record_that_keeps_failing() -> None:
    """Offset 2 answers 503 forever: commits never pass 2, though 3 and 4 are indexed."""
    consumer = FakeConsumer(batches=[[Msg(0, o, record(0, o)) for o in range(5)]])
    consumer.script[1] = lambda c: c.assign(0)
    es = FakeES(lambda i: (503, "unavailable") if i == "0-2" else (201, None))
    consumer.stop_when = lambda: consumer.calls > 60
    make(consumer, es).run()
    assert consumer.committed_position(0) == 2
    assert es.sent.count("0-3") == 1
    assert es.sent.count("0-2") > 1  # only the failing item is sent again


def test_409_counts_as_resolved() -> None:
    """A duplicate answer moves the commit position like a create."""
    consumer = FakeConsumer(batches=[[Msg(0, o, record(0, o)) for o in range(3)]])
    consumer.script[1] = lambda c: c.assign(0)
    es = FakeES(lambda i: (409, "version_conflict_engine_exception"))
    consumer.stop_when = lambda: consumer.calls > 20
    indexer = make(consumer, es)
    indexer.run()
    assert consumer.committed_position(0) == 3
    assert indexer.metrics.duplicates._value.get() == 3


def test_permanent_failure_resolves_only_after_the_dead_letter_ack() -> None:
    """A mapping error is produced to the DLQ; its offset is committed once acknowledged."""
    producer = FakeProducer()
    consumer = FakeConsumer(batches=[[Msg(0, o, record(0, o)) for o in range(2)]])
    consumer.script[1] = lambda c: c.assign(0)
    es = FakeES(lambda i: (400, "document_parsing_exception") if i == "0-0" else (201, None))
    consumer.stop_when = lambda: consumer.calls > 20
    make(consumer, es, producer).run()
    assert [p["topic"] for p in producer.produced] == ["application-logs.dlq"]
    assert producer.produced[0]["value"] == record(0, 0)
    assert consumer.committed_position(0) == 2


def test_revoke_commits_resolved_work_synchronously_and_drops_the_rest() -> None:
    """On revoke, in-flight work gets revoke_timeout to finish; what is resolved is committed
    with a synchronous commit, the stuck record's offset is where it stops."""
    consumer = FakeConsumer(batches=[[Msg(0, o, record(0, o)) for o in range(4)]])
    consumer.script[1] = lambda c: c.assign(0)
    consumer.script[10] = lambda c: c.revoke(0)
    es = FakeES(lambda i: (429, "es_rejected_execution_exception") if i == "0-1" else (201, None))
    consumer.stop_when = lambda: consumer.calls > 12
    indexer = make(consumer, es)
    indexer.run()
    sync_commits = [offsets for offsets, asynchronous in consumer.commits if not asynchronous]
    assert {(TOPIC, 0): 1} in sync_commits
    assert consumer.committed_position(0) == 1
    assert indexer._buffered == 0  # the abandoned record's memory is released


def test_lost_partitions_are_dropped_without_commit() -> None:
    """on_lost: no commit for the lost partition, even of resolved work."""
    consumer = FakeConsumer(batches=[[Msg(0, o, record(0, o)) for o in range(3)]])
    consumer.script[1] = lambda c: c.assign(0)
    es = FakeES(ok)
    indexer = make(consumer, es, consumer={"commit_interval": 1000})
    consumer.script[15] = lambda c: c.lose(0)
    consumer.stop_when = lambda: consumer.calls > 20
    indexer.run()
    assert consumer.commits == []


def test_elasticsearch_down_pauses_and_its_return_resumes() -> None:
    """Connection failures pause every owned partition; the first success resumes them,
    and nothing is lost in between."""
    consumer = FakeConsumer(batches=[[Msg(0, o, record(0, o)) for o in range(3)]])
    consumer.script[1] = lambda c: c.assign(0, 1)
    es = FakeES(ok)
    es.down = True

    def back(_c: FakeConsumer) -> None:
        es.down = False

    consumer.script[30] = back
    consumer.stop_when = lambda: consumer.calls > 60
    indexer = make(consumer, es)
    states: list[str] = []
    consumer.script[20] = lambda c: states.append(indexer._health_now(0)["status"])
    indexer.run()
    # the assignment's own explicit state first (librdkafka keeps a stale pause otherwise)
    assert consumer.pause_log[:3] == ["resume", "pause", "resume"]
    assert states == ["stalled"]
    assert consumer.committed_position(0) == 3
    assert sorted(set(es.sent)) == ["0-0", "0-1", "0-2"]


def test_memory_bound_pauses_partitions() -> None:
    """Past max_buffered_bytes of unresolved records, partitions are paused."""
    big = [Msg(0, o, record(0, o) + b" " * 20_000) for o in range(10)]
    consumer = FakeConsumer(batches=[big])
    consumer.script[1] = lambda c: c.assign(0)
    es = FakeES(lambda i: (429, "es_rejected_execution_exception"))
    consumer.stop_when = lambda: consumer.calls > 15
    make(consumer, es, consumer={"max_buffered_bytes": 65536}).run()
    assert consumer.pause_log[:2] == ["resume", "pause"]  # the assignment's state, then ours


def test_stop_drains_in_flight_work_and_commits() -> None:
    """stop(): no more consuming; what was taken is indexed and committed before run returns."""
    consumer = FakeConsumer(batches=[[Msg(0, o, record(0, o)) for o in range(50)]])
    consumer.script[1] = lambda c: c.assign(0)
    consumer.stop_when = lambda: consumer.calls >= 2
    make(consumer, FakeES(ok), consumer={"commit_interval": 1000}).run()
    assert consumer.commits[-1] == ({(TOPIC, 0): 50}, False)


def test_paused_for_elasticsearch_resumes_when_no_record_is_left_to_probe_with() -> None:
    """ES down, then its partition revoked: with nothing left to retry, the new partition
    is not left paused forever; the next bulk request decides."""
    consumer = FakeConsumer(batches=[[Msg(0, o, record(0, o)) for o in range(2)]])
    consumer.script[1] = lambda c: c.assign(0)
    es = FakeES(ok)
    es.down = True
    consumer.script[12] = lambda c: c.revoke(0)
    consumer.script[13] = lambda c: c.assign(1)
    consumer.stop_when = lambda: consumer.calls > 20
    indexer = make(consumer, es)
    indexer.run()
    assert consumer.pause_log[:2] == ["resume", "pause"]  # the assignment's state, then ours
    assert not indexer._paused
    assert (TOPIC, 1) not in consumer.paused
