"""The chaos verdict: the drain waits for the ground truth, and the report names every record."""

from __future__ import annotations

import threading
from collections import Counter

from kafka_logging.chaos import verdict


class SlowIndex:
    """Elasticsearch as the drain sees it: extras already indexed, true records arriving late."""

    def __init__(self, truth: dict[str, int], extras: int, arrive_after_reads: int) -> None:
        self.truth = truth
        self.extras = Counter({("app-0-x", 10_000 + i): 1 for i in range(extras)})
        self.arrive_after = arrive_after_reads
        self.reads = 0
        self.now = 0.0

    def held(self) -> Counter[tuple[str, int]]:
        seen = Counter(self.extras)
        for gen, n in self.truth.items():
            late = 15 if self.reads < self.arrive_after else 0  # the last 15 are still on their way
            for s in range(n - (late if gen == "file-0" else 0)):
                seen[(gen, s)] += 1
        return seen

    def read_seen(self) -> Counter[tuple[str, int]]:
        self.reads += 1
        return self.held()

    def count(self) -> int:
        return sum(self.held().values())

    def clock(self) -> float:
        return self.now


class TickingEvent(threading.Event):
    def __init__(self, index: SlowIndex) -> None:
        super().__init__()
        self.index = index

    def wait(self, timeout: float | None = None) -> bool:
        self.index.now += timeout or 0.0
        return False


def test_unconfirmed_extras_and_a_slow_drain_report_no_false_loss() -> None:
    """Extras make the count reach the target early; the drain still waits for the truth."""
    truth = {"file-0": 100, "app-0-x": 50}
    index = SlowIndex(truth, extras=75, arrive_after_reads=3)
    assert index.count() >= sum(truth.values())  # the old rule would have stopped here
    seen, waited = verdict.drain(
        truth, index.read_seen, index.count, 300, clock=index.clock, stop=TickingEvent(index)
    )
    assert verdict.lost(truth, seen, {"file-0": "service-0.log"}) == []
    assert index.reads == 3
    assert waited > 0


def test_a_real_loss_is_reported_after_the_deadline_with_generator_range_and_path() -> None:
    """Records that never arrive are named: generator, sequence run, handler or file."""
    truth = {"file-0": 10, "app-1-ab": 5}
    seen = Counter({("file-0", s): 1 for s in range(10) if s not in (3, 4, 7)})
    seen.update({("app-1-ab", s): 1 for s in range(4)})
    index_now = [0.0]

    def clock() -> float:
        return index_now[0]

    class Tick(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            index_now[0] += timeout or 0.0
            return False

    got, _ = verdict.drain(truth, lambda: seen, lambda: 100, 30, clock=clock, stop=Tick())
    found = [f.as_dict() for f in verdict.lost(truth, got, {"file-0": "service-0.log"})]
    assert found == [
        {"generator": "app-1-ab", "seq": [4, 4], "records": 1, "path": "handler"},
        {"generator": "file-0", "seq": [3, 4], "records": 2, "path": "file service-0.log"},
        {"generator": "file-0", "seq": [7, 7], "records": 1, "path": "file service-0.log"},
    ]


def test_duplicates_are_named_with_their_copy_count() -> None:
    """A record indexed twice is reported as a run with copies=2."""
    seen = Counter({("file-1", 5): 2, ("file-1", 6): 2, ("file-1", 9): 3, ("app-0-a", 1): 1})
    found = [f.as_dict() for f in verdict.duplicated(seen, {"file-1": "service-1.log"})]
    assert found == [
        {"generator": "file-1", "seq": [5, 6], "records": 2, "path": "file service-1.log",
         "copies": 2},
        {"generator": "file-1", "seq": [9, 9], "records": 1, "path": "file service-1.log",
         "copies": 3},
    ]  # fmt: skip
