"""The delivery thread of one KafkaHandler: format, encode, produce, poll, spool, replay.

One worker per handler instance owns the producer, the spool and every callback (they are
all served by its own `poll()` calls), so nothing here needs a lock except the caller-facing
queue, which is a `collections.deque` (atomic appends/pops).

Routing, decided per batch:
- online (no spool backlog, broker reachable): `produce()` straight to Kafka;
- down (all brokers down, local queue full, or a delivery failed for a retriable reason):
  librdkafka's not-yet-sent messages are purged back (in order) into the spool, and every
  new record goes to the spool after them. Records librdkafka already sent stay with it
  (the idempotent producer retries them, in order, until `message.timeout.ms`);
- while the spool holds anything, new records are appended to it too, so the topic sees
  records in the order they were logged. A single probe message (the oldest spooled one)
  is sent every `probe_interval` seconds while down; its acknowledgement ends the outage,
  then the spool is replayed with up to `replay_window` messages in flight. The spool's
  position only moves past acknowledged messages; after a failure the replay rewinds to
  the acknowledged position and skips what was acknowledged beyond it (no duplicates).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka_logging.handler import native
from kafka_logging.handler.budget import QueueBudget
from kafka_logging.handler.diag import Diagnostics
from kafka_logging.handler.drops import DropReport
from kafka_logging.handler.ecs import EcsFormatter, render_message
from kafka_logging.handler.fit import fit
from kafka_logging.handler.spool import Entry, Position, Spool, encode_frame, target_name
from kafka_logging.handler.stats import Stats
from kafka_logging.wire import record as wire

Encoder = Callable[[wire.Record], bytes]
_ENCODING_HEADERS = {e: (wire.HEADER_ENCODING, e.value.encode()) for e in wire.Encoding}
ORPHAN_SCAN_INTERVAL = 30.0  # seconds between looks for spools of processes that died
BEHIND = 256  # a batch this large means records arrive faster than one linger apart

_RETRIABLE_NAMES = frozenset(
    [
        "_MSG_TIMED_OUT",
        "_TIMED_OUT",
        "_TRANSPORT",
        "_ALL_BROKERS_DOWN",
        "_PURGE_QUEUE",
        "_PURGE_INFLIGHT",
        "_QUEUE_FULL",
        "_DESTROY",
        "NOT_ENOUGH_REPLICAS",
        "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
        "LEADER_NOT_AVAILABLE",
        "NOT_LEADER_FOR_PARTITION",
        "REQUEST_TIMED_OUT",
        "NETWORK_EXCEPTION",
        "BROKER_NOT_AVAILABLE",
    ]
)


@dataclass(frozen=True)
class WorkerSettings:
    topic: str
    producer_config: dict[str, Any]
    encoding: wire.Encoding
    key_paths: tuple[tuple[str, ...], ...]  # the key is their values joined by "/"; () for none
    max_record_bytes: int
    spool_dir: Path | None
    spool_max_bytes: int
    spool_segment_bytes: int
    spool_fsync_interval: float
    shed_level: int
    shed_fraction: float
    max_queue: int
    batch_size: int = 2000
    linger: float = 0.005
    probe_interval: float = 1.0
    replay_window: int = 10000
    registry_url: str | None = None
    registry_config: dict[str, Any] = field(default_factory=dict)


# Broker states librdkafka retries by itself and that clear within seconds on a healthy
# cluster (a coordinator loading its log after a broker start or a leader move). Said only
# when the same condition is still being retried TRANSIENT_GRACE seconds after it first was.
_TRANSIENT = ("Coordinator load in progress", "Coordinator not available", "Not coordinator")
TRANSIENT_GRACE = 30.0


class _KafkaLogger:
    """librdkafka's log lines (served by poll()) go to rate-limited stderr, never `logging`."""

    def __init__(self, diag: Diagnostics, clock: Callable[[], float] = time.monotonic) -> None:
        self.diag = diag
        self.clock = clock
        self._transient_since: float | None = None  # when this run of retries began
        self._transient_last = 0.0

    def log(self, level: int, fmt: str, *args: Any) -> None:
        if level > logging.WARNING:
            return
        try:
            text = fmt % args
        except (TypeError, ValueError):
            text = f"{fmt} {args}"
        if text.endswith("retrying") and any(t in text for t in _TRANSIENT):
            now = self.clock()
            if self._transient_since is None or now - self._transient_last > TRANSIENT_GRACE:
                self._transient_since = now  # a new run of retries, after a quiet grace period
            self._transient_last = now
            if now - self._transient_since < TRANSIENT_GRACE:
                return
        self.diag.say("librdkafka", f"kafka client: {text}")


class Worker:
    def __init__(
        self,
        settings: WorkerSettings,
        queue: deque[logging.LogRecord],
        wake: native.EventLike,
        formatter: EcsFormatter,
        stats: Stats,
        diag: Diagnostics,
        producer_factory: Callable[[dict[str, Any]], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        budget: QueueBudget | None = None,
        report: DropReport | None = None,
    ) -> None:
        self.s = settings
        self.queue = queue
        self.wake = wake
        self.formatter = formatter
        self.stats = stats
        self.diag = diag
        self.budget = budget or QueueBudget()
        self.report = report or DropReport(stats, diag, {}, diag.interval, clock)
        self.clock = clock
        self._producer_factory = producer_factory or _confluent_producer
        self.closing = native.Event()
        self.close_deadline = 0.0
        self.thread: native.ThreadLike | None = None
        self.thread_id: int | None = None
        self.producer: Any = None
        self.spool: Spool | None = None
        self.down = False
        self.down_reason = ""
        self._purge_needed = False
        self._respool: list[Entry] = []
        self._window: deque[list[Any]] = deque()  # [Position, event_id, state 0/1/2]
        self._replay_in_flight = 0
        self._rewind_needed = False
        self._skip: set[str] = set()
        self._next_probe = 0.0
        self._probe_backoff = settings.probe_interval
        self._flushes: deque[native.EventLike] = deque()
        self._batch_bytes = 0  # bytes of frames collected for the spool in this batch
        self._recreate = False
        self._next_orphan_scan = clock() + ORPHAN_SCAN_INTERVAL
        self._encoder: Encoder = wire.encode_json
        self._encoding = wire.Encoding.JSON
        self._registry_retry = 0.0
        self.abandoned: list[Any] = []
        self._max_record_bytes = settings.max_record_bytes
        self._key_paths = settings.key_paths
        self._constant_key = process_key(settings.key_paths, formatter)
        # The compiled record -> JSON (kafka_logging.speedups), same bytes as the path below;
        # used when the key needs no field of the record.
        key_known = self._constant_key is not None or not settings.key_paths
        json_only = settings.encoding is wire.Encoding.JSON and key_known
        self._fast_json = formatter.fast_json if json_only else None

    # -- thread --------------------------------------------------------------------------
    def start(self) -> None:
        # an OS thread, also under gevent/eventlet (native.py): never starved by greenlets
        self.thread = native.start_thread(self._run, f"kafka-logging:{self.s.topic}")

    def request_flush(self, done: native.EventLike) -> None:
        self._flushes.append(done)
        self.wake.set()

    def all_delivered(self) -> bool:
        producer_empty = self.producer is None or len(self.producer) == 0
        spool_empty = self.spool is None or not self.spool.pending()
        return not self.queue and producer_empty and spool_empty and not self._respool

    def in_flight(self) -> int:
        return len(self.producer) if self.producer is not None else 0

    def _run(self) -> None:
        self.thread_id = threading.get_ident()
        try:
            self._setup()
            self._loop()
        except Exception as exc:  # noqa: BLE001 - last line of defence: say it, count it
            self.stats.last_error = f"worker crashed: {type(exc).__name__}: {exc}"
            self.diag.say("crash", f"delivery thread stopped: {type(exc).__name__}: {exc}")
            lost = len(self.queue)
            self.queue.clear()
            self.budget.reset()
            if lost:
                self.stats.drop("worker_crashed", lost)
        finally:
            for done in self._flushes:
                done.set()

    def _setup(self) -> None:
        self.producer = self._new_producer()
        if self.s.spool_dir is not None:
            spool = Spool(
                self.s.spool_dir,
                target_name(str(self.s.producer_config.get("bootstrap.servers", "")), self.s.topic),
                self.s.topic,
                max_bytes=self.s.spool_max_bytes,
                segment_bytes=self.s.spool_segment_bytes,
                fsync_interval=self.s.spool_fsync_interval,
                clock=self.clock,
                report=self.diag.say,
            )
            try:
                adopted = spool.open()
            except OSError as exc:
                self.stats.last_error = f"spool unusable: {exc}"
                self.diag.say("spool", f"spool directory {self.s.spool_dir} unusable: {exc}")
            else:
                self.spool = spool
                if adopted:
                    self.diag.say("adopt", f"replaying {adopted} spool segment(s) left behind")
        self._choose_encoder()

    def _new_producer(self) -> Any:
        config = dict(self.s.producer_config)
        config["error_cb"] = self._on_error
        config["on_delivery"] = self._on_delivery
        config["logger"] = _KafkaLogger(self.diag)
        return self._producer_factory(config)

    def _replace_producer(self) -> None:
        """After a fatal error (e.g. the idempotent producer's sequence broke) the producer is
        unusable: take its messages back (spooled, or counted when there is no spool) and
        start a new one."""
        self._recreate = False
        old = self.producer
        old.purge(in_queue=True, in_flight=True, blocking=False)
        old.poll(0)
        if self._respool:
            self._spool_respooled()
        self.abandoned.clear()
        self.abandoned.append(old)  # destroyed with the worker, never mid-callback
        self.producer = self._new_producer()
        self.diag.say("fatal", "replaced the Kafka producer after a fatal error")

    def _choose_encoder(self) -> None:
        if self.s.encoding is wire.Encoding.JSON:
            return
        from kafka_logging.wire import avro  # noqa: PLC0415 - only Avro users pay for fastavro

        self._encoder, self._encoding = avro.encode_single_object, wire.Encoding.AVRO
        if self.s.registry_url is None:
            return
        try:
            schema_id = register_schema(self.s.registry_url, self.s.registry_config, self.s.topic)
        except Exception as exc:  # noqa: BLE001 - any registry failure: fall back, retry later
            self._registry_retry = self.clock() + 30.0
            self.stats.last_error = f"schema registry: {exc}"
            self.diag.say(
                "registry",
                f"schema registry {self.s.registry_url} unusable ({exc}); writing Avro "
                "single-object encoding until it answers",
            )
            return
        self._registry_retry = 0.0
        self._encoder = avro.confluent_encoder(schema_id)
        self._encoding = wire.Encoding.AVRO_CONFLUENT

    def _loop(self) -> None:
        queue = self.queue
        while True:
            batch = self._drain()
            if self._purge_needed:
                self._purge_to_spool()
            if batch:
                self._handle(batch)
            self.producer.poll(0)
            self._housekeeping()
            if self.closing.is_set() and not queue:
                self._shutdown()
                return
            if len(batch) >= BEHIND:
                continue  # behind: no pause until the queue is short again
            if batch:
                self.closing.wait(self.s.linger)  # let a few records gather (cheaper per record)
                continue
            self.wake.clear()
            if not queue:
                busy = self.in_flight() or self._window or self._flushes or self._respool
                backlog = self.spool is not None and self.spool.pending()
                self.wake.wait(0.02 if (busy or backlog) else 0.5)

    def _housekeeping(self) -> None:
        self.report.poll()
        if self._respool:
            self._spool_respooled()
        if self._recreate:
            self._replace_producer()
        self._pump_replay()
        if self.spool is not None:
            self.spool.maybe_sync()
            if self.clock() >= self._next_orphan_scan:
                self._next_orphan_scan = self.clock() + ORPHAN_SCAN_INTERVAL
                if self.spool.adopt_orphans():
                    self.diag.say("adopt", "replaying spool segments of a process that died")
        if self._flushes:
            self._check_flushes()
        if self._registry_retry and self.clock() >= self._registry_retry:
            self._choose_encoder()

    def _drain(self) -> list[logging.LogRecord]:
        queue = self.queue
        n = min(len(queue), self.s.batch_size)
        pop = queue.popleft
        batch = [pop() for _ in range(n)]
        if self.budget.heavy:
            self.budget.release(batch)
        return batch

    # -- live records --------------------------------------------------------------------
    def _handle(self, batch: list[logging.LogRecord]) -> None:
        self.stats.taken += len(batch)
        produce = self.producer.produce
        topic = self.s.topic
        encode = self._encode
        event_id_header = wire.HEADER_EVENT_ID
        frames: list[bytes] = []
        self._batch_bytes = 0
        spooling = self._must_spool()
        for index, record in enumerate(batch):
            value, key, eid, encoding = encode(record)
            if spooling:
                self._spool_or_drop(frames, Entry(key, value, eid, encoding.value), record.levelno)
                continue
            try:
                produce(
                    topic,
                    value,
                    key,
                    headers=[_ENCODING_HEADERS[encoding], (event_id_header, eid)],
                )
            except BufferError:
                self._set_down("the producer's local queue is full")
                if self.spool is None:
                    self._drop_unsent(record.levelno, "kafka_queue_full")
                    continue
                self._purge_to_spool()
                spooling = True
                self._spool_or_drop(frames, Entry(key, value, eid, encoding.value), record.levelno)
            except Exception as exc:  # noqa: BLE001 - KafkaException & co: never reach the app
                reason = _error_name(exc)
                self.stats.fail(reason)
                if self.spool is not None:
                    spooling = True
                    self._spool_or_drop(
                        frames, Entry(key, value, eid, encoding.value), record.levelno
                    )
                else:
                    self._drop_unsent(record.levelno, f"produce:{reason}")
                self.diag.say("produce", f"produce failed ({reason}: {exc}); record {index}")
        if frames and self.spool is not None:
            self.spool.append(frames)
        self._batch_bytes = 0

    def _encode(self, record: logging.LogRecord) -> tuple[bytes, bytes | None, str, wire.Encoding]:
        if self._fast_json is not None:
            try:
                fast = self._fast_json(record)
            except Exception:  # noqa: BLE001 - an unusual record: the Python path decides
                fast = None
            if fast is not None and len(fast[0]) <= self._max_record_bytes:
                return fast[0], self._constant_key, fast[1], wire.Encoding.JSON
        try:
            data = self.formatter.build(record)
        except Exception as exc:  # noqa: BLE001 - a record must never be lost to a bug here
            data = _fallback_record(self.formatter, record, exc)
        encoding = self._encoding
        try:
            value = self._encoder(data)
            if len(value) > self._max_record_bytes:
                value = fit(data, self._encoder, self._max_record_bytes)
        except Exception as exc:  # noqa: BLE001 - an Avro failure: ship it as JSON instead
            self.stats.fail(f"encode:{type(exc).__name__}")
            encoding = wire.Encoding.JSON
            value = fit(data, wire.encode_json, self._max_record_bytes)
        key = self._constant_key
        if key is None and self._key_paths:
            key = key_of(data, self._key_paths)
        return value, key, data["event"]["id"], encoding

    def _must_spool(self) -> bool:
        if self.spool is None:
            return False
        return self.down or self.spool.pending() or bool(self._respool)

    def _spool_or_drop(self, frames: list[bytes], entry: Entry, levelno: int) -> None:
        spool = self.spool
        assert spool is not None
        frame = encode_frame(entry)
        pending = self._batch_bytes
        if not spool.room(pending + len(frame)):
            self._drop("spool_full", levelno)
            return
        if levelno < self.s.shed_level and (
            (spool.pending_bytes + pending) / spool.max_bytes >= self.s.shed_fraction
        ):
            self._drop("spool_shed", levelno)
            return
        frames.append(frame)
        self._batch_bytes += len(frame)
        self.stats.spooled += 1

    def _drop_unsent(self, levelno: int, reason: str) -> None:
        self._drop(reason, levelno)

    def _drop(self, reason: str, levelno: int) -> None:
        """Count it; the drop report (polled every loop) says it on stderr with the totals."""
        self.stats.drop(reason)

    # -- outages -------------------------------------------------------------------------
    def _set_down(self, reason: str) -> None:
        if not self.down:
            where = "; records go to the spool" if self.spool is not None else ""
            self.diag.say("down", f"Kafka unreachable ({reason}){where}")
        self.down = True
        self.down_reason = reason
        self.stats.last_error = reason
        self._next_probe = self.clock() + self._probe_backoff
        if self.spool is not None:
            self._purge_needed = True

    def _purge_to_spool(self) -> None:
        """Take librdkafka's unsent messages back (in order) into the spool."""
        self._purge_needed = False
        if self.spool is None or self.producer is None:
            return
        self.producer.purge(in_queue=True, in_flight=False, blocking=False)
        self.producer.poll(0)
        self._spool_respooled()

    def _spool_respooled(self) -> None:
        entries, self._respool = self._respool, []
        if self.spool is None:
            for _ in entries:
                self._drop("delivery_failed", logging.WARNING)
            return
        frames: list[bytes] = []
        self._batch_bytes = 0
        for entry in entries:
            self._spool_or_drop(frames, entry, logging.WARNING)
        self.spool.append(frames)
        self._batch_bytes = 0

    def _on_error(self, err: Any) -> None:
        name = _error_name(err)
        if name == "_ALL_BROKERS_DOWN":
            self._set_down("all brokers are down")
        elif getattr(err, "fatal", lambda: False)():
            self._recreate = True
            self.stats.fail(f"fatal:{name}")
            self.stats.last_error = f"fatal producer error: {err}"
            self.diag.say("fatal", f"fatal producer error: {err}")
        else:
            self.diag.say(f"error:{name}", f"kafka client error: {err}")

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is None:
            self.stats.delivered += 1
            if self.down:
                self._up()
            return
        name = _error_name(err)
        headers = msg.headers() or []
        eid = wire.header(headers, wire.HEADER_EVENT_ID) or ""
        encoding = wire.header(headers, wire.HEADER_ENCODING) or "json"
        if name in _RETRIABLE_NAMES or _retriable(err):
            if name not in ("_PURGE_QUEUE", "_PURGE_INFLIGHT"):
                self.stats.fail(name)
                self._set_down(f"delivery failed: {err}")
            self._respool.append(Entry(msg.key(), msg.value(), eid, encoding))
            return
        self.stats.fail(name)
        self.stats.drop(f"rejected:{name}")
        self.diag.say(f"rejected:{name}", f"Kafka rejected record {eid}: {err} (dropped)")

    def _up(self) -> None:
        self.down = False
        self._probe_backoff = self.s.probe_interval
        self.diag.say("up", "Kafka reachable again")

    # -- replay --------------------------------------------------------------------------
    def _pump_replay(self) -> None:
        spool = self.spool
        if spool is None:
            return
        if self._rewind_needed:
            if self._replay_in_flight:
                return
            self._skip.update(slot[1] for slot in self._window if slot[2] == 1)
            self._window.clear()
            spool.rewind()
            self._rewind_needed = False
        if not spool.pending():
            return
        if self.down:
            if self._replay_in_flight or self.clock() < self._next_probe:
                return
            budget = 1
            self._next_probe = self.clock() + self._probe_backoff
            self._probe_backoff = min(self._probe_backoff * 2, 10.0)
        else:
            budget = self.s.replay_window - self._replay_in_flight
            if budget <= 0:
                return
        produce = self.producer.produce
        for position, entry in spool.read(budget, 8 * 2**20):
            slot: list[Any] = [position, entry.event_id, 0]
            self._window.append(slot)
            if entry.event_id in self._skip:
                self._skip.discard(entry.event_id)
                slot[2] = 1
                continue
            headers = [
                (wire.HEADER_ENCODING, entry.encoding.encode()),
                (wire.HEADER_EVENT_ID, entry.event_id.encode()),
            ]
            try:
                produce(
                    self.s.topic,
                    entry.value,
                    entry.key,
                    headers=headers,
                    on_delivery=functools.partial(self._on_replayed, slot),
                )
            except BufferError:
                slot[2] = 2
                self._rewind_needed = True
                break
            self._replay_in_flight += 1
        self._advance_window()

    def _on_replayed(self, slot: list[Any], err: Any, msg: Any) -> None:
        self._replay_in_flight -= 1
        if err is None:
            slot[2] = 1
            self.stats.replayed += 1
            if self.down:
                self._up()
            self._advance_window()
            return
        slot[2] = 2
        self._rewind_needed = True
        name = _error_name(err)
        if name not in ("_PURGE_QUEUE", "_PURGE_INFLIGHT"):
            self.stats.fail(f"replay:{name}")
            if name in _RETRIABLE_NAMES or _retriable(err):
                self._set_down(f"replay failed: {err}")
            else:
                self.diag.say(f"replay:{name}", f"Kafka rejected a spooled record: {err}")

    def _advance_window(self) -> None:
        window = self._window
        last: Position | None = None
        while window and window[0][2] == 1:
            last = window.popleft()[0]
        if last is not None and self.spool is not None:
            self.spool.ack(last)

    # -- flush / close -------------------------------------------------------------------
    def _check_flushes(self) -> None:
        if self.queue or self._respool:
            return
        waiting_is_useless = self.down and self.spool is None  # nothing can be delivered now
        if self.producer is not None and len(self.producer) > 0 and not waiting_is_useless:
            return
        if self.spool is not None and self.spool.pending() and not self.down:
            return  # the broker is up: flush means delivered
        if self.spool is not None:
            self.spool.sync()
        while self._flushes:
            self._flushes.popleft().set()

    def _shutdown(self) -> None:
        deadline = self.close_deadline
        margin = 0.3
        producer = self.producer
        if self.down and self.spool is not None and self.spool.pending():
            # Kafka may be back although no probe has said so yet (the probe backs off up to
            # 10 s): one probe now; when it is acknowledged the spool is replayed until the
            # deadline, when it fails the spool stays on disk for the next start.
            self._next_probe = self.clock()
            self._probe_backoff = max(self._probe_backoff, deadline - self.clock())
        while self.clock() < deadline - margin:
            self._pump_replay()
            pending_spool = (
                self.spool is not None
                and self.spool.pending()
                and (not self.down or self._replay_in_flight > 0)
            )
            if not len(producer) and not pending_spool and not self._respool:
                break
            producer.poll(0.05)
            if self._respool:
                self._spool_respooled()
        if len(producer):
            producer.purge(in_queue=True, in_flight=True, blocking=False)
            producer.poll(0)
            leftover = len(self._respool)
            if self.spool is None and leftover:
                self._respool.clear()
                self.stats.drop("shutdown_deadline", leftover)
                self.diag.say("shutdown", f"{leftover} record(s) undelivered at close (no spool)")
            else:
                self._spool_respooled()
            producer.poll(0)
        if self.spool is not None:
            self.spool.close()
        for done in self._flushes:
            done.set()
        self._flushes.clear()

    def after_fork_in_child(self) -> None:
        """The parent's producer and threads do not exist here: forget them, touch nothing."""
        if self.spool is not None:
            self.spool.abandon()
        self.abandoned.append(self.producer)  # never destroyed: its threads are gone


def _confluent_producer(config: dict[str, Any]) -> Any:
    from confluent_kafka import Producer  # noqa: PLC0415

    return Producer(config)


def register_schema(url: str, config: dict[str, Any], topic: str) -> int:
    """Register the shipped Avro schema under `<topic>-value`; its id."""
    from confluent_kafka.schema_registry import (  # noqa: PLC0415
        Schema,
        SchemaRegistryClient,
    )

    from kafka_logging.wire.avro import schema_text  # noqa: PLC0415

    client = SchemaRegistryClient({"url": url, **config})
    schema_id: int = client.register_schema(f"{topic}-value", Schema(schema_text(), "AVRO"))
    return schema_id


def _error_name(err: Any) -> str:
    code = getattr(err, "name", None)
    if callable(code):
        try:
            return str(code())
        except Exception:  # noqa: BLE001
            return type(err).__name__
    args = getattr(err, "args", ())
    if args and hasattr(args[0], "name"):
        return _error_name(args[0])
    return type(err).__name__


def _retriable(err: Any) -> bool:
    check = getattr(err, "retriable", None)
    try:
        return bool(check()) if callable(check) else False
    except Exception:  # noqa: BLE001
        return False


# Key parts that never change within a process: its key is computed once per process (the
# worker is made again after fork, with the child's pid).
PROCESS_CONSTANT = frozenset(
    [
        ("service", "name"),
        ("service", "version"),
        ("service", "environment"),
        ("host", "hostname"),
        ("process", "pid"),
    ]
)


def process_key(paths: tuple[tuple[str, ...], ...], formatter: EcsFormatter) -> bytes | None:
    """The key of every record of this process, when `paths` name only process constants."""
    if not paths or not set(paths) <= PROCESS_CONSTANT:
        return None
    constants = {
        "service": formatter.service,
        "host": {"hostname": formatter.hostname},
        "process": {"pid": os.getpid()},
    }
    return key_of(constants, paths)


def key_of(data: Any, paths: tuple[tuple[str, ...], ...]) -> bytes | None:
    """The values at `paths` (dotted paths split) joined by "/" (absent ones left out)."""
    parts = []
    for path in paths:
        node: Any = data
        for part in path:
            if not isinstance(node, dict):
                node = None
                break
            node = node.get(part)
        if node is not None:
            parts.append(str(node))
    return "/".join(parts).encode("utf-8", "replace") if parts else None


def _fallback_record(
    formatter: EcsFormatter, record: logging.LogRecord, exc: Exception
) -> wire.Record:
    return {
        "@timestamp": formatter.timestamp_text(getattr(record, "created", time.time())),
        "log": {"level": str(getattr(record, "levelname", "")).lower(), "logger": str(record.name)},
        "message": render_message(record),
        "ecs": {"version": wire.ECS_VERSION},
        "event": {"id": wire.random_event_id()},
        "kafka_logging": {"format_error": f"{type(exc).__name__}: {exc}"},
    }
