"""The drop report: what the handler lost, with exact running totals, on stderr.

Drops are only counted where they happen (`Stats.drop`, cheap, on any thread). This report
turns the counters into lines: the first drop is reported at once, then at most one line
every `interval` seconds while the totals keep moving, each with the exact totals so far
by reason and what each reason means; and `final()` (at close, also at interpreter exit)
writes a summary when anything was dropped at all. Nothing goes through `logging`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from kafka_logging.handler import native
from kafka_logging.handler.diag import Diagnostics
from kafka_logging.handler.stats import Stats

# Reasons a record can be dropped by the caller's emit() (before the worker took it).
CALLER_REASONS = frozenset(["queue_full", "queue_shed", "closed", "recursion", "emit_error"])


class DropReport:
    def __init__(
        self,
        stats: Stats,
        diag: Diagnostics,
        explain: Mapping[str, str],
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stats = stats
        self.diag = diag
        self.explain = explain
        self.interval = interval
        self.clock = clock
        self.reported = 0  # dropped_total as of the last line written
        self._next = 0.0
        self._lock = native.Lock()

    def poll(self) -> None:
        """Write a line if records were dropped since the last one and `interval` has
        passed (the first drop at once). Cheap when nothing new was dropped."""
        if self.stats.dropped_total == self.reported:
            return
        now = self.clock()
        if now < self._next:
            return
        with self._lock:
            total = self.stats.dropped_total
            if total == self.reported or now < self._next:
                return
            new, self.reported = total - self.reported, total
            self._next = now + self.interval
        self.diag.write(
            f"dropped {new:,} record(s) since the last report; {total:,} in total: "
            + self._by_reason()
        )

    def final(self, logged: int) -> None:
        """The closing summary: how many of the `logged` records were dropped, by reason."""
        with self._lock:
            total = self.stats.dropped_total
            self.reported = total
        if total:
            self.diag.write(
                f"handler closed; {total:,} of {logged:,} record(s) were dropped: "
                + self._by_reason()
            )

    def _by_reason(self) -> str:
        """`reason=count (what it means)`, largest first."""
        parts = []
        for reason, count in sorted(self.stats.dropped().items(), key=lambda item: -item[1]):
            why = self.explain.get(reason.split(":", 1)[0])
            parts.append(f"{reason}={count:,}" + (f" ({why})" if why else ""))
        return ", ".join(parts)
