"""Per-partition offset tracking: which offset may be committed.

An offset is *resolved* once its record is indexed, was a 409 duplicate, or its dead-letter
copy was acknowledged by Kafka. The committable position of a partition is the lowest
offset not yet resolved (or one past the last offset taken when all are resolved): the
position never moves past a hole. Pure logic; the worker drives it from one thread.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

TopicPartition = tuple[str, int]


@dataclass
class _Partition:
    outstanding: deque[int] = field(default_factory=deque)  # taken, in offset order
    resolved: set[int] = field(default_factory=set)  # resolved but not yet at the head
    next_offset: int | None = None  # one past the last offset taken
    committed: int | None = None  # last position handed out for committing


class OffsetTracker:
    """Taken and resolved offsets of the partitions this worker owns."""

    def __init__(self) -> None:
        self._parts: dict[TopicPartition, _Partition] = {}

    def assign(self, tp: TopicPartition) -> None:
        """Start tracking `tp` afresh (any earlier state of it is forgotten)."""
        self._parts[tp] = _Partition()

    def drop(self, tp: TopicPartition) -> None:
        """Forget `tp` (revoked or lost); later resolutions of its offsets are ignored."""
        self._parts.pop(tp, None)

    def owns(self, tp: TopicPartition) -> bool:
        return tp in self._parts

    def partitions(self) -> list[TopicPartition]:
        return list(self._parts)

    def take(self, tp: TopicPartition, offset: int) -> bool:
        """Record that `offset` was taken from `tp`. False (ignore it) if the partition is not
        owned or the offset is not beyond the last one taken (a re-delivery)."""
        part = self._parts.get(tp)
        if part is None or (part.next_offset is not None and offset < part.next_offset):
            return False
        part.outstanding.append(offset)
        part.next_offset = offset + 1
        return True

    def resolve(self, tp: TopicPartition, offset: int) -> None:
        """Mark `offset` of `tp` resolved. Unknown partitions/offsets are ignored."""
        part = self._parts.get(tp)
        if part is None or not part.outstanding or offset < part.outstanding[0]:
            return
        if offset == part.outstanding[0]:
            part.outstanding.popleft()
        else:
            part.resolved.add(offset)
        outstanding, resolved = part.outstanding, part.resolved
        while outstanding and outstanding[0] in resolved:
            resolved.discard(outstanding.popleft())

    def position(self, tp: TopicPartition) -> int | None:
        """The offset to commit for `tp` (Kafka semantics: the next one to read), or None
        when nothing was taken yet."""
        part = self._parts.get(tp)
        if part is None:
            return None
        if part.outstanding:
            return part.outstanding[0]
        return part.next_offset

    def unresolved(self, tp: TopicPartition | None = None) -> int:
        """How many taken offsets are not resolved (of `tp`, or of all partitions)."""
        parts = [self._parts[tp]] if tp is not None and tp in self._parts else []
        if tp is None:
            parts = list(self._parts.values())
        return sum(len(p.outstanding) - len(p.resolved) for p in parts)

    def to_commit(
        self, only: list[TopicPartition] | None = None, force: bool = False
    ) -> dict[TopicPartition, int]:
        """Positions that moved since they were last handed out (every known position when
        `force`: a handed-out async commit may not have landed); marks them handed out."""
        result: dict[TopicPartition, int] = {}
        for tp in only if only is not None else list(self._parts):
            part = self._parts.get(tp)
            if part is None:
                continue
            pos = self.position(tp)
            if pos is not None and (force or pos != part.committed):
                result[tp] = pos
                part.committed = pos
        return result

    def uncommit(self, positions: dict[TopicPartition, int]) -> None:
        """A commit of these positions failed: hand them out again next time."""
        for tp, pos in positions.items():
            part = self._parts.get(tp)
            if part is not None and part.committed == pos:
                part.committed = None
