"""Producer worker processes (output.workers > 0): the per-line work on more than one core.

The main process keeps everything that decides what is shipped and what is committed:
discovery, identity, reading, multiline, acknowledgement tracking (acks.py) and checkpoints.
It hands each batch to one worker process over a pipe:
- a *region*: the raw bytes of complete lines [start, start + len) of one file, cut at the
  last "\\n" of a read (plain inputs: no multiline, framer in its plain state). The worker
  frames them with a fresh LineFramer (the same framing the main process would do: the region
  holds only complete lines, each shorter than max_line_bytes since max_line_bytes >=
  read_chunk_bytes is required for this path), encodes them with the same RecordBuilder, and
  produces them;
- or *events*: Lines the main process framed itself (multiline events, partial lines, long
  line pieces), encoded and produced the same way.

Each worker has its own idempotent acks=all producer and counts its batch down with one
delivery report per record, exactly as the in-process path does (acks.Batch). When the last
record of a batch is reported, it sends one report to the main process: every record
acknowledged, or the reason and number of failures. The main process turns that into the
batch's single delivery report (its Batch holds one count for it), so the checkpoint rule is
unchanged: a file's checkpoint moves only over a prefix of batches whose every record Kafka
acknowledged; a failed batch rewinds its file and is re-read. A worker that dies (or is
killed) fails every batch it held in the same way (reason _WORKER_DIED) and is restarted.

Workers ignore SIGINT/SIGTERM (the main process drains them at shutdown) and die with the
main process (PR_SET_PDEATHSIG): a SIGKILLed shipper leaves no worker behind; what they had
in flight is re-read from the last checkpoint (duplicates within the in-flight window, same
event.id).

Order: batches of one file go to different workers, so within a file Kafka holds them in
batch order per worker, interleaved across workers (each batch is in order). With workers = 0
(the default) one process does everything and file order is kept.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from confluent_kafka import KafkaException

from kafka_logging.errors import FatalError, RetryableError
from shipper.acks import Batch
from shipper.config import ShipperConfig
from shipper.producer import KafkaSink, Progress, produce_all
from shipper.reader import Event, Line, LineFramer
from shipper.records import FileEncoder, RecordBuilder

log = logging.getLogger(__name__)

WORKER_DIED = "_WORKER_DIED"
MAX_DEATHS = 5  # worker exits within DEATH_WINDOW_SECONDS before the shipper gives up
DEATH_WINDOW_SECONDS = 60.0
_PR_SET_PDEATHSIG = 1
_MAX_ENCODERS = 256  # per worker: file encoders cached by (input, path, identity)


class WorkerFailure:
    """A batch's failure as the main process sees it (like a KafkaError: has name())."""

    __slots__ = ("count", "reason")

    def __init__(self, reason: str, count: int) -> None:
        self.reason = reason
        self.count = count

    def name(self) -> str:
        return self.reason

    def __str__(self) -> str:
        return f"{self.reason} ({self.count} record(s))"


# ---- the worker process ---------------------------------------------------------------------


class _WorkerBatch:
    """One batch inside a worker: counted down by its records' delivery reports."""

    __slots__ = ("batch_id", "done", "dropped", "failures", "lines", "reason", "remaining")

    def __init__(self, batch_id: int, done: Callable[[_WorkerBatch], None]) -> None:
        self.batch_id = batch_id
        self.done = done
        self.remaining = 1  # held until every record is produced
        self.lines = 0
        self.dropped = 0  # bytes of text cut from records over message.max.bytes
        self.failures = 0
        self.reason: str | None = None

    def on_delivery(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self.failures += 1
            if self.reason is None:
                self.reason = err.name() if hasattr(err, "name") else str(err)
        self.remaining -= 1
        if self.remaining == 0:
            self.done(self)


def _die_with_parent(parent: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the pipe's EOF still ends the worker
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)


class Worker:
    """The worker's state; run() is its loop. Built in the worker process."""

    def __init__(
        self, conn: Connection, config: ShipperConfig, hostname: str, sink: Any = None
    ) -> None:
        self.conn = conn
        self.config = config
        self.limits = config.limits
        self.sink = sink if sink is not None else KafkaSink(config)
        self.builders = [RecordBuilder(cfg, hostname, config.output.key) for cfg in config.inputs]
        self.encoders: dict[tuple[int, str, str], FileEncoder] = {}
        self.open_batches = 0

    def _encoder(self, input_index: int, path: str, identity: str) -> FileEncoder:
        key = (input_index, path, identity)
        enc = self.encoders.get(key)
        if enc is None:
            if len(self.encoders) >= _MAX_ENCODERS:
                self.encoders.clear()
            enc = self.encoders[key] = self.builders[input_index].for_file(path, identity)
        return enc

    def _report(self, batch: _WorkerBatch) -> None:
        self.open_batches -= 1
        self.conn.send((batch.batch_id, batch.dropped, batch.failures, batch.reason))

    def _receive(self, jobs: queue.SimpleQueue[Any]) -> None:
        """The jobs thread: the pipe into `jobs`; None (stop) at the end or when it breaks."""
        try:
            while True:
                job = self.conn.recv()
                jobs.put(job)
                if job is None:
                    return
        except (EOFError, OSError):
            jobs.put(None)

    def handle(self, job: tuple[Any, ...]) -> None:
        kind, batch_id, input_index, path, identity, timestamp, payload = job
        if kind == "region":
            start, region = payload
            limits = self.limits
            framer = LineFramer(start, limits.max_line_bytes, limits.long_lines)
            events: list[Line] = framer.feed(region, 0.0)
        else:
            events = payload
        encoder = self._encoder(input_index, path, identity)
        batch = _WorkerBatch(batch_id, self._report)
        self.open_batches += 1
        batch.lines = len(events)
        batch.remaining += len(events)  # one record a line
        done = Progress()
        try:
            produce_all(self.sink, encoder, events, timestamp, batch.on_delivery, done)
        except (KafkaException, RetryableError) as exc:
            # Not produced = not acknowledged: the batch fails and its file is re-read.
            log.warning("producing a batch failed: %s", exc)
            left = len(events) - done.count
            batch.failures += left
            batch.reason = batch.reason or "_PRODUCE_FAILED"
            batch.remaining -= left
        batch.dropped += done.dropped
        batch.on_delivery(None, None)  # release the hold

    def run(self) -> None:
        """Produce jobs as they come, serving delivery reports in between (at least every
        millisecond while a batch is open). A thread takes jobs off the pipe at once, so the
        main process never waits for this one to finish a batch before handing it the next."""
        jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # The jobs thread needs the GIL for each piece of a job it reads off the pipe: with
        # the default 5 ms switch interval the main process waits on a full pipe meanwhile.
        sys.setswitchinterval(0.0002)
        threading.Thread(target=self._receive, args=(jobs,), name="jobs", daemon=True).start()
        sink = self.sink
        while True:
            if sink.fatal is not None:
                sink.rebuild()  # every queued record is reported failed first
            try:
                job = jobs.get(timeout=0.001 if self.open_batches else 0.2)
            except queue.Empty:
                job = ()
            if job is None:
                break
            if job:
                self.handle(job)
            sink.poll(0)
        deadline = time.monotonic() + self.limits.shutdown_timeout_seconds
        sink.drain(deadline, time.monotonic)
        sink.close()


def worker_main(
    conn: Connection, config: ShipperConfig, hostname: str, parent: int, log_level: int
) -> None:
    """Entry point of a worker process."""
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(
        level=log_level, format="%(asctime)s %(levelname)s %(name)s[worker]: %(message)s"
    )
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the main process is gone
        Worker(conn, config, hostname).run()


# ---- the main process's side ----------------------------------------------------------------


class _Handle:
    __slots__ = ("conn", "index", "pending", "process")

    def __init__(self, index: int, process: Any, conn: Connection) -> None:
        self.index = index
        self.process = process
        self.conn = conn
        self.pending: dict[int, Batch] = {}


class WorkerPool:
    """The sink the daemon uses when output.workers > 0 (same surface as KafkaSink where the
    daemon needs it: fatal, rebuild, poll, drain, close, len)."""

    def __init__(
        self,
        config: ShipperConfig,
        hostname: str,
        stop: threading.Event | None = None,
        on_dropped: Callable[[str, int], None] | None = None,
    ) -> None:
        self.config = config
        self.on_dropped = on_dropped
        self.hostname = hostname
        self.topic = config.output.topic
        self.count = config.output.workers
        self.stop = stop or threading.Event()
        self.fatal: str | None = None  # workers rebuild their own producers
        self._context = multiprocessing.get_context("spawn")
        self._next_id = 0
        self._deaths: list[float] = []
        KafkaSink(config).close()  # a bad librdkafka setting is an error here, not in a worker
        self.workers = [self._spawn(i) for i in range(self.count)]

    def _spawn(self, index: int) -> _Handle:
        ours, theirs = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=worker_main,
            args=(theirs, self.config, self.hostname, os.getpid(), logging.getLogger().level),
            name=f"kafka-logging-shipper-worker-{index}",
            daemon=True,
        )
        process.start()
        theirs.close()
        return _Handle(index, process, ours)

    # ---- sending ---------------------------------------------------------------------------

    def _pick(self) -> _Handle:
        return min(self.workers, key=lambda w: len(w.pending))

    def _send(self, batch: Batch, job: tuple[Any, ...]) -> None:
        batch_id = self._next_id
        self._next_id += 1
        while True:
            worker = self._pick()
            try:
                worker.conn.send((job[0], batch_id, *job[1:]))
            except (BrokenPipeError, ConnectionResetError, EOFError):
                self._died(worker)
                continue
            worker.pending[batch_id] = batch
            return

    def ship_region(
        self,
        batch: Batch,
        input_index: int,
        path: str,
        identity: str,
        timestamp: str,
        start: int,
        region: bytes,
    ) -> None:
        """Send the complete lines `region` (file bytes from `start`); batch.remaining must
        hold one count for the worker's report."""
        self._send(batch, ("region", input_index, path, identity, timestamp, (start, region)))

    def ship_events(
        self,
        batch: Batch,
        input_index: int,
        path: str,
        identity: str,
        timestamp: str,
        events: Sequence[Event],
    ) -> None:
        self._send(batch, ("events", input_index, path, identity, timestamp, events))

    # ---- reports ---------------------------------------------------------------------------

    def poll(self, timeout: float = 0.0) -> int:
        """Serve the workers' reports, waiting at most `timeout` for the first one."""
        live = [w for w in self.workers if not w.conn.closed]
        by_conn = {id(w.conn): w for w in live}
        ready = wait([w.conn for w in live], timeout)
        served = 0
        for ready_conn in ready:
            worker = by_conn[id(ready_conn)]
            conn = worker.conn
            try:
                while conn.poll():
                    batch_id, dropped, failures, reason = conn.recv()
                    served += 1
                    batch = worker.pending.pop(batch_id)
                    if dropped and self.on_dropped is not None:
                        self.on_dropped("record_too_large", dropped)
                    err = WorkerFailure(str(reason), failures) if failures else None
                    batch.on_delivery(err, None)
            except (EOFError, OSError):
                self._died(worker)
        return served

    def _died(self, worker: _Handle) -> None:
        """Fail every batch the worker held (the files are re-read) and start a new one."""
        with contextlib.suppress(OSError):
            worker.conn.close()
        worker.process.join(timeout=5)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(timeout=5)
        log.warning(
            "producer worker %d exited (code %s) with %d batch(es) in flight; they are re-read",
            worker.index,
            worker.process.exitcode,
            len(worker.pending),
        )
        pending = list(worker.pending.values())
        now = time.monotonic()
        self._deaths = [t for t in self._deaths if now - t < DEATH_WINDOW_SECONDS] + [now]
        if len(self._deaths) > MAX_DEATHS:
            for batch in pending:
                batch.on_delivery(WorkerFailure(WORKER_DIED, 1), None)
            worker.pending.clear()
            raise FatalError(
                f"producer workers exited {len(self._deaths)} times within "
                f"{DEATH_WINDOW_SECONDS:.0f} s (their errors are logged above); stopping"
            )
        replacement = self._spawn(worker.index)
        self.workers[worker.index] = replacement
        for batch in pending:
            batch.on_delivery(WorkerFailure(WORKER_DIED, 1), None)

    def check(self) -> None:
        """Notice workers that died without closing their pipe."""
        for worker in list(self.workers):
            if not worker.process.is_alive():
                self._died(worker)

    def __len__(self) -> int:
        return sum(len(w.pending) for w in self.workers)

    def rebuild(self) -> None:
        self.fatal = None

    def drain(self, deadline: float, clock: Callable[[], float]) -> int:
        """Serve reports until no batch is in flight or the deadline passes; what is left."""
        while len(self) and clock() < deadline:
            self.poll(min(0.1, max(0.0, deadline - clock())))
        return len(self)

    def close(self) -> None:
        for worker in self.workers:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        for worker in self.workers:
            worker.process.join(timeout=self.config.limits.shutdown_timeout_seconds + 5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5)
            with contextlib.suppress(OSError):
                worker.conn.close()
