"""`stack up --kafka-nodes 3`: a real 3-broker KRaft cluster that survives losing one broker."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from kafka_logging.stack import manager
from kafka_logging.stack.settings import StackSettings, private_stack

BROKERS = ["kafka", "kafka-2", "kafka-3"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[StackSettings]:
    """Three brokers (each also a controller) on free loopback ports, private to this module."""
    base = Path(tempfile.mkdtemp(prefix="kl-cluster-", dir="/var/tmp"))
    os.chmod(base, 0o755)
    settings = private_stack(base, kafka_nodes=3)
    manager.up(settings, print, only=BROKERS)
    yield settings
    manager.down(settings, print)
    shutil.rmtree(base, ignore_errors=True)


def _create(admin: AdminClient, topic: str) -> dict[str, Any]:
    """Create a topic and wait until every broker knows it (its config can be described)."""
    from confluent_kafka.admin._config import ConfigResource

    admin.create_topics([NewTopic(topic, 3)])[topic].result(30)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    deadline = time.monotonic() + 30
    while True:
        try:
            config: dict[str, Any] = admin.describe_configs([resource])[resource].result(10)
            return config
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            threading.Event().wait(0.5)


def _produce(bootstrap: str, topic: str, values: list[bytes]) -> list[object]:
    errors: list[object] = []
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    for value in values:
        producer.produce(topic, value, on_delivery=lambda err, _m: errors.append(err))
    assert producer.flush(60) == 0
    return errors


def test_new_topics_get_three_replicas_and_min_isr_two(cluster: StackSettings) -> None:
    """Topics created with the broker defaults have replication 3 and min.insync.replicas 2."""
    admin = AdminClient({"bootstrap.servers": cluster.kafka_bootstrap})
    topic = f"rf-{uuid.uuid4().hex[:8]}"
    config = _create(admin, topic)
    meta = admin.list_topics(timeout=10)
    assert len(meta.brokers) == 3
    assert {len(p.replicas) for p in meta.topics[topic].partitions.values()} == {3}
    assert config["min.insync.replicas"].value == "2"


def test_acks_all_writes_continue_with_one_broker_down(cluster: StackSettings) -> None:
    """With one of three brokers stopped, acks=all writes are still acknowledged; none is lost."""
    admin = AdminClient({"bootstrap.servers": cluster.kafka_bootstrap})
    topic = f"survive-{uuid.uuid4().hex[:8]}"
    _create(admin, topic)
    before = [f"a{i}".encode() for i in range(200)]
    assert _produce(cluster.kafka_bootstrap, topic, before) == [None] * 200
    manager.down(cluster, print, only=["kafka-2"])
    try:
        during = [f"b{i}".encode() for i in range(200)]
        assert _produce(cluster.kafka_bootstrap, topic, during) == [None] * 200
    finally:
        manager.up(cluster, print, only=["kafka-2"])
    consumer = Consumer(
        {
            "bootstrap.servers": cluster.kafka_bootstrap,
            "group.id": f"g-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    seen: set[bytes] = set()
    try:
        deadline = time.monotonic() + 90
        while len(seen) < 400 and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                seen.add(msg.value())
    finally:
        consumer.close()
    assert seen == set(before) | set(during)
