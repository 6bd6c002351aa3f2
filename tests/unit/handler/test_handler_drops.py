"""The queue's byte bound and the drop report on stderr (fakes only; the burst against a
real broker is in tests/integration/handler/test_handler_burst.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from kafka_logging.handler import KafkaHandler
from kafka_logging.handler.budget import RECORD_COST, QueueBudget, extra_slots
from kafka_logging.handler.diag import Diagnostics
from kafka_logging.handler.drops import DropReport
from kafka_logging.handler.stats import Stats

MakeHandler = Callable[..., KafkaHandler]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def report(interval: float = 10.0) -> tuple[DropReport, Stats, list[str], Clock]:
    stats, lines, clock = Stats(), [], Clock()
    diag = Diagnostics(write=lambda data: lines.append(data.decode()), clock=clock)
    return DropReport(stats, diag, {"queue_shed": "shed"}, interval, clock), stats, lines, clock


def test_first_drop_is_reported_at_once_then_totals_per_interval() -> None:
    """The first drop is written at once; later ones wait for the interval and are then
    reported with the exact running total, not the count at the first line."""
    drops, stats, lines, clock = report()
    stats.drop("queue_shed")
    drops.poll()
    stats.drop("queue_shed", 9_999)
    drops.poll()
    assert len(lines) == 1
    assert "dropped 1 record(s)" in lines[0]
    clock.now += 10
    drops.poll()
    assert lines[1] == (
        "kafka-logging: dropped 9,999 record(s) since the last report; 10,000 in total: "
        "queue_shed=10,000 (shed)\n"
    )


def test_nothing_new_nothing_written() -> None:
    """Polling without new drops writes nothing, however much time passes."""
    drops, stats, lines, clock = report(interval=0)
    stats.drop("queue_full")
    drops.poll()
    clock.now += 100
    drops.poll()
    assert len(lines) == 1


def test_final_summary_only_when_something_was_dropped() -> None:
    """close() writes a summary of every reason with its exact count, and none when
    nothing was dropped."""
    drops, stats, lines, _ = report()
    drops.final(logged=10)
    assert lines == []
    stats.drop("queue_shed", 3)
    stats.drop("spool_full", 4)
    drops.final(logged=10)
    assert lines == [
        "kafka-logging: handler closed; 7 of 10 record(s) were dropped: spool_full=4, "
        "queue_shed=3 (shed)\n"
    ]


def test_handler_close_reports_the_true_total(
    make_handler: MakeHandler, logger: logging.Logger, capfd: object
) -> None:
    """A handler that shed thousands says so exactly at close, not 'dropped so far: 1'."""
    handler = make_handler(max_queue_records=100, diagnostics_interval=3600)
    handler._wake.set()  # the worker never starts: the queue only fills
    logger.addHandler(handler)
    for i in range(5_000):
        logger.info("r %d", i)
    handler.close(timeout=1)
    err = capfd.readouterr().err  # type: ignore[attr-defined]
    assert "handler closed; 4,920 of 5,000 record(s) were dropped: queue_shed=4,920" in err
    assert "queue over 80% of 100 records / 64 MiB: below WARNING shed" in err


def test_default_queue_holds_65536_ordinary_records(
    make_handler: MakeHandler, logger: logging.Logger
) -> None:
    """By default the queue is bounded by 64 MiB at 1 KiB per ordinary record: INFO is shed
    from 80 % of 65,536 records on."""
    handler = make_handler()
    handler._wake.set()
    logger.addHandler(handler)
    for i in range(52_430):
        logger.info("r %d", i)
    assert len(handler._queue) == int(65_536 * 0.8)
    assert handler.stats()["dropped"] == {"queue_shed": 52_430 - int(65_536 * 0.8)}
    handler._queue.clear()


def test_long_messages_and_exceptions_are_charged_by_size(
    make_handler: MakeHandler, logger: logging.Logger
) -> None:
    """A 127 KiB message takes 127 slots more than a short one, and an exception 16: the
    queue's bytes bound holds for big records too; the worker gives the slots back."""
    assert extra_slots("x" * 100 * RECORD_COST, has_exception=False) == 100
    assert extra_slots("short", has_exception=True) == 16
    handler = make_handler(max_queue_bytes=2**20)  # 1,024 slots
    handler._wake.set()
    logger.addHandler(handler)
    for _ in range(8):  # 8 x 128 slots: full
        logger.warning("x" * 127 * RECORD_COST)
    logger.warning("no room left")
    assert len(handler._queue) == 8
    assert handler.stats()["dropped"] == {"queue_full": 1}
    budget = handler._budget
    budget.release(list(handler._queue))
    assert budget.heavy == 0


def test_budget_release_ignores_uncharged_records() -> None:
    """Records charged nothing give nothing back."""
    budget = QueueBudget()
    plain = logging.LogRecord("n", logging.INFO, "f", 1, "m", None, None)
    heavy = logging.LogRecord("n", logging.INFO, "f", 1, "m", None, None)
    budget.charge(heavy, 5)
    budget.release([plain, heavy])
    assert budget.heavy == 0
    assert "_kl_cost" not in heavy.__dict__
