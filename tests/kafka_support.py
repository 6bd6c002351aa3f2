"""Reading a topic back and making topics: one implementation for every integration test.

Importable as `kafka_support` (pytest puts this folder on sys.path for tests/conftest.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from confluent_kafka import Consumer, Message
from confluent_kafka.admin import AdminClient, NewTopic


def read_topic(
    bootstrap: str,
    topic: str,
    until: int | Callable[[list[Message]], bool],
    timeout: float = 60.0,
    quiet: float = 0.0,
) -> list[Message]:
    """Every message of `topic` from the start (errors skipped), read until `until` holds (a
    count of messages, or a predicate on those read so far) and then `quiet` seconds more
    (to see duplicates), or until `timeout`."""
    done: Callable[[list[Message]], bool] = (
        (lambda got: len(got) >= until) if isinstance(until, int) else until
    )
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    found: list[Message] = []
    deadline = time.monotonic() + timeout
    done_at: float | None = None
    try:
        while time.monotonic() < deadline:
            if done_at is None and done(found):
                done_at = time.monotonic()
            if done_at is not None and time.monotonic() - done_at >= quiet:
                break
            found.extend(m for m in consumer.consume(1000, 0.2) if m.error() is None)
    finally:
        consumer.close()
    return found


def create_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    new = NewTopic(name, num_partitions=partitions, replication_factor=1)
    admin.create_topics([new])[name].result(60)
