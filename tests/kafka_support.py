"""Reading a topic back and making topics: one implementation for every integration test.

Importable as `kafka_support` (pytest puts this folder on sys.path for tests/conftest.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from confluent_kafka import Consumer, Message
from confluent_kafka.admin import AdminClient, NewTopic

T = TypeVar("T")


def _same(message: Message) -> Any:
    return message


def read_topic(
    bootstrap: str,
    topic: str,
    until: int | Callable[[list[T]], bool],
    timeout: float = 60.0,
    quiet: float = 0.0,
    convert: Callable[[Message], T] = _same,
) -> list[T]:
    """Every message of `topic` from the start (errors skipped), each passed through
    `convert` once, read until `until` holds (a count, or a predicate on what was read so far)
    and then `quiet` seconds more (to see duplicates), or until `timeout`."""
    done: Callable[[list[T]], bool] = (
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
    found: list[T] = []
    deadline = time.monotonic() + timeout
    done_at: float | None = None
    try:
        while time.monotonic() < deadline:
            if done_at is None and done(found):
                done_at = time.monotonic()
            if done_at is not None and time.monotonic() - done_at >= quiet:
                break
            found.extend(convert(m) for m in consumer.consume(1000, 0.2) if m.error() is None)
    finally:
        consumer.close()
    return found


def create_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    new = NewTopic(name, num_partitions=partitions, replication_factor=1)
    admin.create_topics([new])[name].result(60)
