"""Helpers of the handler's integration tests: read a topic back, wait for a condition."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer

from kafka_logging import record as wire


@dataclass
class Consumed:
    key: bytes | None
    headers: dict[str, bytes]
    value: bytes
    record: dict[str, Any]


def consume(bootstrap: str, topic: str, expected: int, timeout: float = 60.0) -> list[Consumed]:
    """Read `topic` from the start until `expected` messages arrived and 1 s of quiet after
    (to see duplicates), or `timeout`. Every message decoded with kafka_logging.record."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"handler-test-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out: list[Consumed] = []
    deadline = time.monotonic() + timeout
    quiet_until: float | None = None
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                if quiet_until is not None and time.monotonic() >= quiet_until:
                    break
                continue
            if msg.error():
                continue
            headers = dict(msg.headers() or [])
            out.append(
                Consumed(msg.key(), headers, msg.value(), wire.decode(msg.value(), msg.headers()))
            )
            if len(out) >= expected and quiet_until is None:
                quiet_until = time.monotonic() + 1.0
    finally:
        consumer.close()
    return out


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    pause = threading.Event()
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        pause.wait(0.1)


def create_topic(bootstrap: str, name: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])[name].result(60)
