"""The dead-letter producer: a record that can never be indexed goes to the dead-letter topic
with its original bytes, key and headers, plus headers naming why and where it came from.

Dead-lettering is idempotent for readers: a record re-read by a new owner after a rebalance
(its offset not committed yet) is dead-lettered again, under the same `kl.dlq.id`
(`<topic>-<partition>-<offset>` of the source record); readers of the dead-letter topic,
`kafka-logging tail` among them, show each id once.

Its offset is resolved only when Kafka acknowledged the dead-letter copy. A failed delivery
is produced again (nothing is dropped). Delivery reports are served by `poll()`, which the
worker calls from its own thread, so resolution happens on that thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from indexer.tracker import TopicPartition
from kafka_logging.errors import FatalError
from kafka_logging.wire.dead_letter import (
    HEADER_ID,
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_REASON,
    HEADER_STAGE,
    HEADER_TOPIC,
    dead_letter_id,
)

log = logging.getLogger(__name__)

__all__ = [
    "HEADER_ID",
    "HEADER_OFFSET",
    "HEADER_PARTITION",
    "HEADER_REASON",
    "HEADER_STAGE",
    "HEADER_TOPIC",
    "DeadLetters",
]

MAX_REASON = 4096


# (topic-partition, offset, generation, size, stage) of a record whose dead-letter copy
# Kafka acknowledged; `generation`, `size` and `stage` are what the caller passed to send().
OnResolved = Callable[[TopicPartition, int, int, int, str], None]


class DeadLetters:
    """Produces dead-letter copies; calls `on_resolved` once Kafka acknowledged one."""

    def __init__(self, producer: Any, topic: str, on_resolved: OnResolved) -> None:
        self._producer = producer
        self._topic = topic
        self._on_resolved = on_resolved
        self.in_flight = 0
        self.delivered = 0

    def send(
        self,
        tp: TopicPartition,
        offset: int,
        generation: int,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None,
        reason: str,
        stage: str,
        size: int = 0,
    ) -> None:
        extra = [
            (HEADER_REASON, reason[:MAX_REASON].encode("utf-8", "replace")),
            (HEADER_TOPIC, tp[0].encode()),
            (HEADER_PARTITION, str(tp[1]).encode()),
            (HEADER_OFFSET, str(offset).encode()),
            (HEADER_STAGE, stage.encode()),
            (HEADER_ID, dead_letter_id(tp[0], tp[1], offset).encode()),
        ]
        message = {
            "key": key,
            "value": value,
            "headers": list(headers or ()) + extra,
        }
        self.in_flight += 1
        self._produce(message, (tp, offset, generation, size, stage))

    def _produce(
        self, message: dict[str, Any], origin: tuple[TopicPartition, int, int, int, str]
    ) -> None:
        def delivered(err: Any, _msg: Any) -> None:
            if err is None:
                self.in_flight -= 1
                self.delivered += 1
                self._on_resolved(*origin)
                return
            if getattr(err, "fatal", lambda: False)():
                raise FatalError(f"dead-letter producer failed fatally: {err}")
            tp, offset = origin[0], origin[1]
            log.warning("dead-letter copy of %s[%d]@%d failed (%s); again", *tp, offset, err)
            self._produce(message, origin)

        while True:
            try:
                self._producer.produce(self._topic, on_delivery=delivered, **message)
            except BufferError:
                self._producer.poll(0.1)
            else:
                return

    def poll(self, timeout: float = 0.0) -> None:
        """Serve delivery reports (resolutions happen here)."""
        self._producer.poll(timeout)

    def flush(self, timeout: float) -> int:
        """Wait up to `timeout` s for outstanding copies; returns how many are still waiting."""
        remaining: int = self._producer.flush(timeout)
        return remaining
