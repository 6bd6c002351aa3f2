"""OffsetTracker: commit only up to the lowest unresolved offset, never past a hole."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from indexer.tracker import OffsetTracker

TP = ("logs", 0)


def tracker_with(*offsets: int) -> OffsetTracker:
    tracker = OffsetTracker()
    tracker.assign(TP)
    for offset in offsets:
        assert tracker.take(TP, offset)
    return tracker


def test_nothing_taken_means_nothing_to_commit() -> None:
    """A freshly assigned partition has no position and nothing to commit."""
    tracker = tracker_with()
    assert tracker.position(TP) is None
    assert tracker.to_commit() == {}


def test_position_stays_at_a_hole() -> None:
    """With 10 unresolved and 11, 12 resolved, the position is 10."""
    tracker = tracker_with(10, 11, 12)
    tracker.resolve(TP, 11)
    tracker.resolve(TP, 12)
    assert tracker.position(TP) == 10
    assert tracker.unresolved(TP) == 1


def test_resolving_the_hole_moves_past_everything_resolved() -> None:
    """Once the lowest offset resolves, the position jumps past the resolved run."""
    tracker = tracker_with(10, 11, 12, 13)
    for offset in (11, 12, 10):
        tracker.resolve(TP, offset)
    assert tracker.position(TP) == 13


def test_all_resolved_commits_one_past_the_last_taken() -> None:
    """Kafka semantics: the committed offset is the next one to read."""
    tracker = tracker_with(5, 6, 9)  # gaps (compaction, transaction markers) are fine
    for offset in (9, 5, 6):
        tracker.resolve(TP, offset)
    assert tracker.position(TP) == 10


def test_to_commit_hands_out_a_position_once() -> None:
    """A position is handed out when it moved, not again until it moves again."""
    tracker = tracker_with(0, 1)
    tracker.resolve(TP, 0)
    assert tracker.to_commit() == {TP: 1}
    assert tracker.to_commit() == {}
    tracker.resolve(TP, 1)
    assert tracker.to_commit() == {TP: 2}


def test_uncommit_hands_a_failed_position_out_again() -> None:
    """A failed commit is retried on the next round."""
    tracker = tracker_with(0)
    tracker.resolve(TP, 0)
    positions = tracker.to_commit()
    tracker.uncommit(positions)
    assert tracker.to_commit() == {TP: 1}


def test_redelivered_offsets_are_refused() -> None:
    """An offset at or below the last one taken is a re-delivery and is not tracked again."""
    tracker = tracker_with(3, 4)
    assert not tracker.take(TP, 4)
    assert not tracker.take(TP, 2)
    assert tracker.unresolved(TP) == 2


def test_dropped_partition_ignores_late_resolutions() -> None:
    """After drop (revoke/lost), resolving its offsets changes nothing and nothing is taken."""
    tracker = tracker_with(0)
    tracker.drop(TP)
    tracker.resolve(TP, 0)
    assert not tracker.take(TP, 1)
    assert tracker.to_commit() == {}
    assert not tracker.owns(TP)


def test_reassign_starts_afresh() -> None:
    """A partition assigned again forgets its earlier offsets."""
    tracker = tracker_with(0, 1)
    tracker.assign(TP)
    assert tracker.position(TP) is None
    assert tracker.take(TP, 0)


def test_partitions_are_independent() -> None:
    """A hole in one partition does not hold back another."""
    other = ("logs", 1)
    tracker = tracker_with(0)
    tracker.assign(other)
    tracker.take(other, 7)
    tracker.resolve(other, 7)
    assert tracker.to_commit() == {TP: 0, other: 8}


@given(
    st.lists(st.integers(0, 5), min_size=1, max_size=60),
    st.randoms(use_true_random=False),
)
def test_position_is_always_the_lowest_unresolved(gaps: list[int], rnd: object) -> None:
    """For any offsets and any resolution order, the position is min(unresolved) or last+1."""
    import random

    assert isinstance(rnd, random.Random)
    offsets, current = [], 0
    for gap in gaps:
        current += gap + 1
        offsets.append(current)
    tracker = tracker_with(*offsets)
    order = offsets[:]
    rnd.shuffle(order)
    unresolved = set(offsets)
    for offset in order[: rnd.randint(0, len(order))]:
        tracker.resolve(TP, offset)
        unresolved.discard(offset)
        expected = min(unresolved) if unresolved else offsets[-1] + 1
        assert tracker.position(TP) == expected
        assert tracker.unresolved(TP) == len(unresolved)


def test_forced_to_commit_hands_out_unchanged_positions_too() -> None:
    """A synchronous commit on revoke/exit re-commits a position an async commit carried."""
    tracker = tracker_with(0)
    tracker.resolve(TP, 0)
    tracker.to_commit()
    assert tracker.to_commit(force=True) == {TP: 1}
