"""Acknowledgement tracking: the committed offset only crosses acknowledged records."""

from __future__ import annotations

from typing import Any

from shipper_fakes import FakeError

from shipper.acks import Batch, FileAcks, Window


def produce(acks: FileAcks, start: int, ends: list[int]) -> tuple[Batch, list[Any]]:
    """One batch with a record ending at each of `ends`; returns the per-record callbacks."""
    batch = acks.open(start)
    callbacks = []
    for _ in ends:
        batch.remaining += 1
        batch.nbytes += 10
        callbacks.append(batch.on_delivery)
    acks.seal(batch, ends[-1], len(ends))
    return batch, callbacks


def make(committed: int = 0) -> tuple[FileAcks, Window, list[int], list[Any]]:
    window = Window(1000)
    shipped: list[int] = []
    failures: list[Any] = []
    acks = FileAcks(committed, window, lambda b: shipped.append(b.lines), failures.append)
    return acks, window, shipped, failures


def test_committed_moves_only_when_a_whole_batch_is_acknowledged() -> None:
    """Acks of some records of a batch do not move the checkpoint."""
    acks, _, shipped, _ = make()
    _, cbs = produce(acks, 0, [10, 20, 30])
    cbs[0](None, None)
    cbs[1](None, None)
    assert acks.committed == 0
    cbs[2](None, None)
    assert acks.committed == 30
    assert shipped == [3]


def test_a_later_batch_acknowledged_first_waits_for_the_earlier_one() -> None:
    """The longest contiguous acknowledged prefix wins, not the highest ack."""
    acks, _, _, _ = make()
    _, first = produce(acks, 0, [10])
    _, second = produce(acks, 10, [20])
    second[0](None, None)
    assert acks.committed == 0
    first[0](None, None)
    assert acks.committed == 20


def test_a_failure_asks_for_a_reread_from_the_failed_batch_and_abandons_later_ones() -> None:
    """Later batches acknowledged after a failure never move the checkpoint past it."""
    acks, window, _, failures = make()
    _, one = produce(acks, 0, [10])
    _, two = produce(acks, 10, [20])
    _, three = produce(acks, 20, [30])
    two[0](FakeError("_MSG_TIMED_OUT"), None)
    three[0](None, None)
    one[0](None, None)
    assert acks.committed == 10
    assert acks.rewind_to == 10
    assert len(failures) == 1
    assert window.in_flight == 0  # every report released its bytes


def test_window_counts_bytes_until_their_reports_arrive() -> None:
    """In-flight bytes are the backpressure bound."""
    acks, window, _, _ = make()
    _, cbs = produce(acks, 0, [10, 20])
    assert window.in_flight == 20
    cbs[0](None, None)
    assert window.in_flight == 20  # released per batch
    cbs[1](None, None)
    assert window.in_flight == 0


def test_reports_served_while_a_batch_is_still_being_produced_cannot_complete_it() -> None:
    """The seal guard: a batch whose records were all acked mid-production stays open."""
    acks, _, _, _ = make()
    batch = acks.open(0)
    batch.remaining += 1
    batch.on_delivery(None, None)  # delivered before the batch is sealed
    assert acks.committed == 0
    batch.remaining += 1
    acks.seal(batch, 20, 2)
    assert acks.committed == 0
    batch.on_delivery(None, None)
    assert acks.committed == 20
