"""The queue's memory bound: records are charged by size, counted in 1 KiB slots.

A queued `LogRecord` with a short message costs about 0.75-1 KiB of memory (measured on
Python 3.11: 750 B plain, 970 B with a small `extra=` dict), so each record is charged one
slot of `RECORD_COST` bytes and the queue holds `max_queue_bytes // RECORD_COST` of them.
A record whose message is longer than `RECORD_COST` is charged its length on top, and a
record carrying an exception `EXCEPTION_COST` more (its traceback keeps the frames alive
until the worker formats it). Only such heavy records touch the shared counter (under a
lock); the common record is counted by `len(queue)` alone, so `emit()` stays lock-free.
Values passed in `extra=` are referenced, not measured: pass small ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from kafka_logging.handler import native

RECORD_COST = 1024
EXCEPTION_COST = 16 * 1024
EXCEPTION_SLOTS = EXCEPTION_COST // RECORD_COST
ATTR_COST = "_kl_cost"  # extra slots charged to a heavy record (underscore: never a field)


class QueueBudget:
    """Extra slots charged for heavy records now in the queue."""

    def __init__(self) -> None:
        self.heavy = 0  # read without the lock by emit(): a plain int read is atomic
        self._lock = native.Lock()

    def charge(self, record: logging.LogRecord, slots: int) -> None:
        """Charge `slots` extra slots for `record` (before it is appended to the queue)."""
        record.__dict__[ATTR_COST] = slots
        with self._lock:
            self.heavy += slots

    def release(self, records: Iterable[logging.LogRecord]) -> None:
        """Give back what `records` (just taken off the queue) were charged."""
        freed = 0
        for record in records:
            freed += record.__dict__.pop(ATTR_COST, 0)
        if freed:
            with self._lock:
                self.heavy -= freed

    def reset(self) -> None:
        with self._lock:
            self.heavy = 0


def extra_slots(message: object, has_exception: bool) -> int:
    """Slots a record is charged beyond its first: its long message and its exception."""
    slots = EXCEPTION_SLOTS if has_exception else 0
    if type(message) is str and len(message) > RECORD_COST:
        slots += len(message) // RECORD_COST
    return slots
