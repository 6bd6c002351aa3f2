"""Crashes and rebalances: SIGKILLed indexers and a changing group still give exactly N."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from indexer_support import Running, Setup, ecs_record, produce

from indexer.config import IndexerConfig

KILLS = int(os.environ.get("INDEXER_KILLS", "10"))


def _steady_writer(
    setup: Setup, records: list[dict[str, object]], seconds: float
) -> threading.Thread:
    """Produce `records` spread evenly over about `seconds`, on a thread."""

    def write() -> None:
        chunks = 20
        step = len(records) // chunks
        pause = threading.Event()
        for i in range(chunks):
            part = records[i * step : len(records) if i == chunks - 1 else (i + 1) * step]
            produce(setup.bootstrap, setup.topic, part, partitions=3)
            pause.wait(seconds / chunks)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


@pytest.mark.timeout(240)
def test_sigkill_at_random_moments_still_gives_exactly_n(
    setup: Setup, spawn_indexer: Callable[[Path], subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """An indexer process SIGKILLed at random moments (>= 10 times) and restarted each time,
    while records keep arriving, ends with exactly N documents, each record once."""
    config = setup.write_config(
        tmp_path / "indexer.yaml",
        # Killed members leave the group after the session timeout: keep it short.
        kafka={"librdkafka": {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}},
        consumer={"commit_interval": 0.3},
        batch={"max_docs": 300, "max_wait": 0.05, "concurrency": 3},
    )
    records = [ecs_record(i) for i in range(30_000)]
    writer = _steady_writer(setup, records, seconds=25)
    rnd = random.Random(os.environ.get("INDEXER_KILL_SEED", "5"))
    pause = threading.Event()
    counts = []
    for _ in range(KILLS):
        proc = spawn_indexer(config)
        pause.wait(rnd.uniform(1.5, 4.0))
        assert proc.poll() is None, "the indexer exited by itself"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        counts.append(setup.count())
    writer.join()
    final = spawn_indexer(config)
    assert setup.wait_count(len(records), timeout=120) == len(records)
    final.send_signal(signal.SIGTERM)
    assert final.wait(60) == 0
    ids = setup.ids()
    assert len(ids) == len(set(ids)) == len(records)
    assert set(ids) == {r["event"]["id"] for r in records}  # type: ignore[index]
    assert counts[0] < len(records)  # the kills did land mid-run


def _short_count_cause(setup: Setup, count: int, expected: int) -> str:
    """Why fewer documents than records: the group committed past them (a loss) or not."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": setup.bootstrap, "group.id": setup.group})
    try:
        committed = consumer.committed([TopicPartition(setup.topic, p) for p in range(3)], 30)
    finally:
        consumer.close()
    total = sum(max(tp.offset, 0) for tp in committed)
    verdict = "LOSS: committed past unindexed records" if total > count else "still indexing"
    return f"{count} of {expected} indexed, {total} committed: {verdict}"


@pytest.mark.timeout(300)
def test_three_workers_one_joining_one_leaving_give_exactly_n(
    setup: Setup, run_indexer: Callable[[IndexerConfig], Running]
) -> None:
    """Two workers share the group, a third joins mid-run and the first leaves mid-run
    (cooperative-sticky rebalances with commits on revoke): exactly N documents."""
    records = [ecs_record(i) for i in range(20_000)]
    writer = _steady_writer(setup, records, seconds=12)
    config = setup.config(batch={"max_docs": 200, "max_wait": 0.05})
    first = run_indexer(config)
    second = run_indexer(config)
    pause = threading.Event()
    pause.wait(4)
    third = run_indexer(config)
    pause.wait(4)
    first.stop()
    writer.join()
    count = setup.wait_count(len(records), timeout=150)
    assert count == len(records), _short_count_cause(setup, count, len(records))
    second.stop()
    third.stop()
    ids = setup.ids()
    assert len(ids) == len(set(ids)) == len(records)
    indexed = sum(int(r.indexer.metrics.indexed._value.get()) for r in (first, second, third))
    assert indexed == len(records)
    assert int(third.indexer.metrics.indexed._value.get()) > 0  # the joiner did get work


@pytest.mark.timeout(240)
def test_a_worker_killed_in_a_group_loses_nothing(
    setup: Setup,
    run_indexer: Callable[[IndexerConfig], Running],
    spawn_indexer: Callable[[Path], subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    """A group member SIGKILLed mid-run: after the session timeout the others take its
    partitions from the last committed offsets; exactly N documents."""
    records = [ecs_record(i) for i in range(15_000)]
    config_path = setup.write_config(
        tmp_path / "indexer.yaml", kafka={"librdkafka": {"session.timeout.ms": 6000}}
    )
    victim = spawn_indexer(config_path)
    survivor = run_indexer(setup.config(kafka={"librdkafka": {"session.timeout.ms": 6000}}))
    writer = _steady_writer(setup, records, seconds=10)
    threading.Event().wait(5)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    writer.join()
    assert setup.wait_count(len(records), timeout=120) == len(records)
    survivor.stop()
    ids = setup.ids()
    assert len(ids) == len(set(ids)) == len(records)
