"""Offset commits: periodic asynchronous ones, and the synchronous ones that hand partitions
over (revoke) or end a worker (shutdown).

A rebalance makes commits fail in ways that are expected and harmless: an asynchronous commit
sent while the group moves to a new generation answers ILLEGAL_GENERATION /
REBALANCE_IN_PROGRESS / UNKNOWN_MEMBER_ID. Its positions are handed out again and the next
periodic (or revoke) commit carries them, so those are logged at DEBUG, not as warnings.

A synchronous commit is retried while the error is transient (the coordinator moving,
REBALANCE_IN_PROGRESS, timeouts) until its deadline. If it still fails, the caller learns
which positions were not saved: on revoke that is a WARNING (the next owner re-reads those
records: 409s in Elasticsearch, dead letters repeated under the same kl.dlq.id), at shutdown
the process exits non-zero.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import TopicPartition as KafkaTP

from indexer.tracker import OffsetTracker, TopicPartition

log = logging.getLogger(__name__)

# The group moved on while the commit was in flight: a later commit carries these positions.
REBALANCE_ERRORS = frozenset(
    {
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError._ASSIGNMENT_LOST,
    }
)
# Worth another try within the same deadline.
TRANSIENT_ERRORS = frozenset(
    {
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.NOT_COORDINATOR,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError._TIMED_OUT,
        KafkaError._WAIT_COORD,
        KafkaError._TRANSPORT,
    }
)
NOTHING_TO_COMMIT = KafkaError._NO_OFFSET


@dataclass(frozen=True)
class CommitFailure:
    """Positions a synchronous commit could not save, and why."""

    positions: dict[TopicPartition, int]
    reason: str
    # The group was rebalancing (the member is leaving or its generation is over): the next
    # owner reads from the last committed position, as after any rebalance. Expected.
    rebalance: bool = False


def _code(error: Any) -> int | None:
    code = getattr(error, "code", None)
    return int(code()) if callable(code) else None


class Committer:
    """Commits the tracker's committable positions through `consumer` (one thread)."""

    def __init__(
        self,
        consumer: Any,
        tracker: OffsetTracker,
        clock: Callable[[], float],
        backoff: float = 0.1,
    ) -> None:
        self._consumer = consumer
        self._tracker = tracker
        self._clock = clock
        self._backoff = backoff
        self._pause = threading.Event()  # never set: a wait that is not time.sleep

    def commit_async(self) -> None:
        """Commit the positions that moved since last time; results come to on_commit()."""
        positions = self._tracker.to_commit()
        if not positions:
            return
        offsets = [KafkaTP(t, p, o) for (t, p), o in positions.items()]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as exc:
            self._failed(positions, exc.args[0] if exc.args else exc)

    def on_commit(self, err: Any, partitions: list[Any]) -> None:
        """librdkafka's offset-commit callback (served by consume())."""
        if err is not None and _code(err) == NOTHING_TO_COMMIT:
            return
        if err is not None:
            positions = {(p.topic, p.partition): p.offset for p in partitions}
            self._failed(positions, err)
            return
        for p in partitions:
            if p.error is not None:
                self._failed({(p.topic, p.partition): p.offset}, p.error)

    def commit_sync(
        self, only: list[TopicPartition] | None, deadline: float
    ) -> CommitFailure | None:
        """Commit every committable position (of `only`, or of all owned partitions) and wait
        for the answer; transient errors are retried until `deadline`. None when all were
        saved (or there was nothing to save)."""
        positions = self._tracker.to_commit(only, force=True)
        while positions:
            offsets = [KafkaTP(t, p, o) for (t, p), o in positions.items()]
            error: Any = None
            try:
                answered = self._consumer.commit(offsets=offsets, asynchronous=False)
            except KafkaException as exc:
                error = exc.args[0] if exc.args else exc
                failed = dict(positions)
            else:
                failed = {
                    (p.topic, p.partition): p.offset for p in answered or () if p.error is not None
                }
                error = next((p.error for p in answered or () if p.error is not None), None)
            if not failed or _code(error) == NOTHING_TO_COMMIT:
                return None
            if _code(error) not in TRANSIENT_ERRORS or self._clock() + self._backoff >= deadline:
                self._tracker.uncommit(failed)
                return CommitFailure(failed, str(error), _code(error) in REBALANCE_ERRORS)
            log.debug("commit of %s: %s; trying again", failed, error)
            self._pause.wait(self._backoff)
            positions = failed
        return None

    def _failed(self, positions: dict[TopicPartition, int], error: Any) -> None:
        """An asynchronous commit failed: hand the positions out again next time."""
        self._tracker.uncommit(positions)
        if _code(error) in REBALANCE_ERRORS | TRANSIENT_ERRORS:
            log.debug("commit of %s deferred to the next one: %s", positions, error)
        else:
            log.warning("commit of %s failed: %s", positions, error)
