"""Producer workers (output.workers): the worker's batch accounting, and the daemon's region
path with a stand-in pool (the real processes are tested in tests/integration/shipper)."""

from __future__ import annotations

from multiprocessing import Pipe
from pathlib import Path
from typing import Any

from shipper_fakes import Clock, FakeSink, config

from shipper.acks import Batch
from shipper.daemon import Shipper
from shipper.producer_pool import Worker, WorkerFailure
from shipper.reader import LineFramer

TS = "2026-11-22T04:31:00.123456Z"


def worker_with_fake_sink(tmp_path: Path) -> tuple[Worker, Any, FakeSink]:
    ours, theirs = Pipe(duplex=True)
    sink = FakeSink()
    worker = Worker(theirs, config(tmp_path), "unit-host", sink=sink)
    return worker, ours, sink


def test_a_region_is_framed_encoded_and_reported_once_every_record_is_acknowledged(
    tmp_path: Path,
) -> None:
    """The worker frames the region at its file offsets (same Lines as in-process framing),
    produces one record per line, and reports the batch only after the last report."""
    worker, conn, sink = worker_with_fake_sink(tmp_path)
    region = b"one\ntwo\r\nth\xffree\n"
    worker.handle(("region", 7, 0, "/var/log/a.log", "ident", TS, (100, region)))
    assert len(sink.queued) == 3
    assert not conn.poll(0)
    sink.deliver(2)
    assert not conn.poll(0)
    sink.deliver()
    assert conn.recv() == (7, 0, 0, None)  # (batch, bytes dropped, failures, reason)
    expected = LineFramer(100, 1 << 20).feed(region, 0)
    assert [(r["log"]["offset"], r["message"]) for r in sink.delivered] == [
        (start, text) for start, _end, text, _flags in expected
    ]
    assert sink.delivered[2]["log"]["flags"] == ["invalid_utf8"]
    assert sink.delivered[0]["event"]["id"].endswith("-100")


def test_failures_in_a_batch_are_counted_and_named_in_its_report(tmp_path: Path) -> None:
    """One failed record fails the batch: the report names the reason and the count."""
    worker, conn, sink = worker_with_fake_sink(tmp_path)
    events = [(0, 2, "a", ()), (2, 4, "b", ()), (4, 6, "c", ())]
    worker.handle(("events", 8, 0, "/var/log/a.log", "ident", TS, events))
    sink.deliver(1)
    sink.fail(2, reason="_MSG_TIMED_OUT")
    assert conn.recv() == (8, 0, 2, "_MSG_TIMED_OUT")


class FakePool(FakeSink):
    """Stands in for WorkerPool: keeps each batch until the test reports on it."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[tuple[Batch, int, bytes]] = []

    def ship_region(self, batch: Batch, *job: Any) -> None:
        _input, _path, _identity, _ts, start, region = job
        self.jobs.append((batch, start, region))

    def ship_events(self, batch: Batch, *job: Any) -> None:
        events = job[-1]
        region = b"".join(e[2].encode() + b"\n" for e in events)
        self.jobs.append((batch, events[0][0], region))

    def check(self) -> None:
        pass

    def report(self, count: int | None = None, error: Any = None) -> None:
        take = self.jobs[: count if count is not None else len(self.jobs)]
        del self.jobs[: len(take)]
        for batch, _start, _region in take:
            batch.on_delivery(error, None)


def test_with_workers_the_checkpoint_moves_over_reported_regions_only(tmp_path: Path) -> None:
    """Regions end at the last newline (the partial line is held); the checkpoint moves only
    when the worker reported the region acknowledged; a failed region is read again."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_bytes(b"one\ntwo\nthr")
    pool = FakePool()
    clock = Clock()
    cfg = config(tmp_path, limits={"scan_interval_seconds": 0.1, "read_chunk_bytes": 4096})
    shipper = Shipper(cfg, sink=pool, clock=clock)
    shipper.start()
    for _ in range(3):
        clock.advance(0.2)
        shipper.tick()
    assert [(start, region) for _b, start, region in pool.jobs] == [(0, b"one\ntwo\n")]
    assert shipper.entries()[0].offset == 0
    pool.report(error=WorkerFailure("_MSG_TIMED_OUT", 2))
    with open(logs / "a.log", "ab") as f:
        f.write(b"ee\n")
    for _ in range(30):  # past the retry backoff
        clock.advance(0.2)
        shipper.tick()
    assert [(start, region) for _b, start, region in pool.jobs] == [(0, b"one\ntwo\nthree\n")]
    assert shipper.entries()[0].offset == 0
    pool.report()
    assert shipper.entries()[0].offset == 14
    shipper.shutdown()
