"""Counters of one handler: what was enqueued, delivered, failed, spooled, replayed, dropped.

The worker thread is the only writer of the delivery-side counters; drops can also happen
on callers' threads, so those go through a lock (the rare path only).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from kafka_logging.handler import native


class Stats:
    def __init__(self) -> None:
        self.taken = 0  # records the worker took off the queue
        self.delivered = 0
        self.spooled = 0
        self.replayed = 0
        self.failed: Counter[str] = Counter()
        self._dropped: Counter[str] = Counter()
        self.dropped_total = 0  # read without the lock: a cheap "anything new?" check
        self._lock = native.Lock()
        self.last_error: str | None = None

    def drop(self, reason: str, count: int = 1) -> None:
        with self._lock:
            self._dropped[reason] += count
            self.dropped_total += count

    def fail(self, reason: str, count: int = 1) -> None:
        self.failed[reason] += count
        self.last_error = reason

    def dropped(self) -> dict[str, int]:
        with self._lock:
            return dict(self._dropped)

    def snapshot(self, queue_depth: int, **extra: Any) -> dict[str, Any]:
        dropped = self.dropped()
        return {
            "enqueued": self.taken + queue_depth,
            "delivered": self.delivered,
            "failed": dict(self.failed),
            "spooled": self.spooled,
            "replayed": self.replayed,
            "dropped": dropped,
            "dropped_total": sum(dropped.values()),
            "queue_depth": queue_depth,
            "last_error": self.last_error,
            **extra,
        }
