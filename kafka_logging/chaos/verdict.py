"""The chaos run's verdict: wait for the ground truth, then name every record lost or doubled.

Pure logic (no services): the run passes in how to read what Elasticsearch holds.

The drain waits until every ground-truth record is seen, not until Elasticsearch's count
reaches the number written: that count also holds records the apps wrote but never confirmed
(a killed app's last batch can be indexed without being in its truth file), so it can reach
the target while true records are still on their way, and the verdict would cry wolf.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Seen = Counter[tuple[str, int]]  # (generator, seq) -> documents in Elasticsearch


def missing(truth: dict[str, int], seen: Seen) -> dict[str, list[int]]:
    """Per generator, the sequence numbers written (0..n-1) that are not in `seen`."""
    out: dict[str, list[int]] = {}
    for gen, n in truth.items():
        gone = [s for s in range(n) if (gen, s) not in seen]
        if gone:
            out[gen] = gone
    return out


def drain(
    truth: dict[str, int],
    read_seen: Callable[[], Seen | None],
    read_count: Callable[[], int],
    timeout: float,
    *,
    interval: float = 3.0,
    clock: Callable[[], float] = time.monotonic,
    stop: threading.Event | None = None,
) -> tuple[Seen, float]:
    """Wait (at most `timeout`) until every ground-truth record is in Elasticsearch.

    `read_count` is a cheap gate (every record seen implies count >= written); `read_seen`
    is the full read (None when Elasticsearch cannot answer right now). Returns the last
    full read and the seconds waited."""
    expected = sum(truth.values())
    waiter = stop or threading.Event()
    start = clock()
    deadline = start + timeout
    seen: Seen = Counter()
    while True:
        if read_count() >= expected:
            got = read_seen()
            if got is not None:
                seen = got
                if not missing(truth, seen):
                    break
        if clock() >= deadline:
            got = read_seen()
            seen = got if got is not None else seen
            break
        waiter.wait(interval)
    return seen, clock() - start


def ranges(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted numbers as inclusive runs: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    out: list[tuple[int, int]] = []
    for n in sorted(numbers):
        if out and n == out[-1][1] + 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


@dataclass(frozen=True)
class Finding:
    """A run of records of one generator that were lost (or indexed `copies` times)."""

    generator: str
    first: int
    last: int
    path: str  # "handler" (an app through KafkaHandler) or "file <name>" (the shipper)
    copies: int = 0

    def as_dict(self) -> dict[str, object]:
        item: dict[str, object] = {
            "generator": self.generator,
            "seq": [self.first, self.last],
            "records": self.last - self.first + 1,
            "path": self.path,
        }
        if self.copies:
            item["copies"] = self.copies
        return item


def path_of(generator: str, file_names: dict[str, str]) -> str:
    name = file_names.get(generator)
    return f"file {name}" if name is not None else "handler"


def lost(truth: dict[str, int], seen: Seen, file_names: dict[str, str]) -> list[Finding]:
    """Every ground-truth record missing from Elasticsearch, as runs per generator."""
    return [
        Finding(gen, a, b, path_of(gen, file_names))
        for gen, gone in sorted(missing(truth, seen).items())
        for a, b in ranges(gone)
    ]


def duplicated(seen: Seen, file_names: dict[str, str]) -> list[Finding]:
    """Every record indexed more than once, as runs of equal copy counts per generator."""
    by_gen: dict[tuple[str, int], list[int]] = {}
    for (gen, seq), count in seen.items():
        if count > 1:
            by_gen.setdefault((gen, count), []).append(seq)
    return [
        Finding(gen, a, b, path_of(gen, file_names), copies)
        for (gen, copies), seqs in sorted(by_gen.items())
        for a, b in ranges(seqs)
    ]
