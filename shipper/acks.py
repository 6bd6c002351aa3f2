"""Acknowledgement tracking: the checkpoint of a file moves only over acknowledged records.

Records of one file are produced in offset order, in batches (one batch per chunk read).
Each record's delivery report counts down its batch. A file's committed offset is the end of
the longest prefix of batches whose every record was acknowledged. When a delivery fails, the
failed batch and every batch after it are abandoned (their late reports only release their
in-flight bytes) and the file is re-read from the failed batch's first byte: a failure is
retried from the file, never lost, at the price of re-sending at most the in-flight window.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any


class Window:
    """Bytes produced but not yet reported on, across all files (the backpressure bound)."""

    __slots__ = ("in_flight", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0

    @property
    def full(self) -> bool:
        return self.in_flight >= self.limit


class Batch:
    __slots__ = (
        "abandoned",
        "acks",
        "end",
        "error",
        "failed",
        "lines",
        "nbytes",
        "remaining",
        "start",
    )

    def __init__(self, acks: FileAcks, start: int) -> None:
        self.acks = acks
        self.start = start
        self.end = start
        self.lines = 0
        self.nbytes = 0
        self.remaining = 0
        self.failed = False
        self.abandoned = False
        self.error: str | None = None

    def on_delivery(self, err: Any, _msg: Any) -> None:
        """librdkafka delivery report for one record of this batch (served by poll())."""
        if err is not None:
            if not self.failed:
                self.failed = True
                self.error = err.name() if hasattr(err, "name") else str(err)
            self.acks.on_failure(self, err)
        self.remaining -= 1
        if self.remaining == 0:
            self.acks.batch_done(self)


class FileAcks:
    """Batches of one file, in produce order, and the committed offset they earn."""

    def __init__(
        self,
        committed: int,
        window: Window,
        on_shipped: Callable[[Batch], None],
        on_failure: Callable[[Any], None],
    ) -> None:
        self.committed = committed
        self.window = window
        self._on_shipped = on_shipped
        self._on_failure = on_failure
        self.batches: deque[Batch] = deque()
        self.rewind_to: int | None = None  # set when a failure asks for a re-read

    def open(self, start: int) -> Batch:
        """A new batch starting at `start`, queued now; add() its records, then seal() it.

        The batch holds one extra count until sealed, so reports served while it is still
        being produced (poll() inside a full-queue wait) cannot complete it early.
        """
        if self.rewind_to is not None:
            raise RuntimeError("a file waiting to be re-read must not produce")
        batch = Batch(self, start)
        batch.remaining = 1
        self.batches.append(batch)
        return batch

    def seal(self, batch: Batch, end: int, lines: int) -> None:
        batch.end = end
        batch.lines = lines
        self.window.in_flight += batch.nbytes
        batch.on_delivery(None, None)

    def on_failure(self, batch: Batch, err: Any) -> None:
        self._on_failure(err)
        if batch.abandoned:
            return
        # Abandon this batch and every later one; the file is re-read from its start.
        while self.batches:
            last = self.batches.pop()
            last.abandoned = True
            if last is batch:
                break
        if self.rewind_to is None or batch.start < self.rewind_to:
            self.rewind_to = batch.start

    def batch_done(self, batch: Batch) -> None:
        self.window.in_flight -= batch.nbytes
        if batch.abandoned:
            return
        self._on_shipped(batch)
        batches = self.batches
        while batches and batches[0].remaining == 0:
            self.committed = batches.popleft().end

    @property
    def idle(self) -> bool:
        """No batch in flight."""
        return not self.batches

    def abandon_all(self) -> None:
        """Forget every in-flight batch (their reports will only release bytes)."""
        for batch in self.batches:
            batch.abandoned = True
        self.batches.clear()
