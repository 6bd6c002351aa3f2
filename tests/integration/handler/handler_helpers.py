"""Helpers of the handler's integration tests: read a topic back, wait for a condition."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka_support import create_topic, read_topic

from kafka_logging.wire import record as wire

__all__ = ["Consumed", "consume", "create_topic", "wait_until"]


@dataclass
class Consumed:
    key: bytes | None
    headers: dict[str, bytes]
    value: bytes
    record: dict[str, Any]


def consume(bootstrap: str, topic: str, expected: int, timeout: float = 60.0) -> list[Consumed]:
    """Read `topic` from the start until `expected` messages arrived and 1 s of quiet after
    (to see duplicates), or `timeout`. Every message decoded with kafka_logging.wire.record."""
    return [
        Consumed(m.key(), dict(m.headers() or []), m.value(), wire.decode(m.value(), m.headers()))
        for m in read_topic(bootstrap, topic, expected, timeout, quiet=1.0)
    ]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    pause = threading.Event()
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        pause.wait(0.1)
