"""The handler's own voice: rate-limited lines on stderr, never through `logging`.

Anything the handler or the Kafka client has to say (drops, delivery failures, librdkafka
log lines) is written with `os.write(2, ...)`, so it can never come back through a logging
handler (no recursion, no `logging._lock`), at most once per `interval` seconds per topic;
lines held back are counted and reported with the next one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from kafka_logging.handler import native


class Diagnostics:
    def __init__(
        self,
        prefix: str = "kafka-logging",
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        write: Callable[[bytes], object] | None = None,
    ) -> None:
        self.prefix = prefix
        self.interval = interval
        self.clock = clock
        self._write = write or _write_stderr
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = native.Lock()

    def say(self, topic: str, text: str) -> bool:
        """Write `text` unless `topic` was written less than `interval` ago. True if written."""
        now = self.clock()
        with self._lock:
            last = self._last.get(topic)
            if last is not None and now - last < self.interval:
                self._held[topic] = self._held.get(topic, 0) + 1
                return False
            self._last[topic] = now
            held = self._held.pop(topic, 0)
        more = f" ({held} similar line(s) held back)" if held else ""
        return self.write(f"{text}{more}")

    def write(self, text: str) -> bool:
        """Write one line now (no rate limit: the caller keeps its own). True if written."""
        try:
            self._write(f"{self.prefix}: {text}\n".encode("utf-8", "replace"))
        except OSError:
            return False  # stderr closed: nowhere left to say it; the counters still hold it
        return True


def _write_stderr(data: bytes) -> None:
    os.write(2, data)
