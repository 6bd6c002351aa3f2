"""KafkaHandler: a drop-in `logging.Handler` shipping ECS records to Kafka.

    import logging, kafka_logging
    logging.getLogger().addHandler(kafka_logging.KafkaHandler(
        "127.0.0.1:9092", service_name="checkout", environment="prod",
        spool_dir="/var/spool/checkout-logs"))

or from `logging.config.dictConfig` (`"class": "kafka_logging.KafkaHandler"` plus the same
keyword arguments as plain values) or `fileConfig` (`args=("127.0.0.1:9092",)` and
`kwargs={...}`). Construction validates every argument (a bad one raises ConfigError
naming it) and neither connects nor starts a thread: the delivery thread starts with the
first record.

What the caller's thread pays
-----------------------------
`emit()` never blocks and never raises. It renders the message when the record has args
(so arguments mutated after the call cannot change what is logged), captures the current
OpenTelemetry span ids (they live in the caller's context), appends the LogRecord to a
bounded deque and, only when the worker sleeps, wakes it. Everything else (the ECS
record, redaction, `extra=` values, exception text, encoding, produce, poll) happens on
the handler's own worker thread: objects passed in `extra=` are serialised there, so pass
values you will not mutate. A formatter set on this handler is not used: records are ECS.

Limits and the overflow policy
------------------------------
Memory is bounded. Records wait for the worker in a queue bounded by `max_queue_bytes`
(default 64 MiB): a record is charged 1 KiB (a queued LogRecord with a short message and a
few `extra=` values measures 0.75-1 KiB), plus its message's length when that exceeds
1 KiB, plus 16 KiB when it carries an exception (see budget.py); so by default the queue
holds 65,536 ordinary records. `max_queue_records` caps the count too (default: no cap
beyond the bytes). librdkafka then holds at most `max_buffer_bytes` (default 64 MiB, and
100,000 messages) of encoded records, each at most `max_record_bytes`. Worst case, the
handler holds about max_queue_bytes + max_buffer_bytes (128 MiB by default) on top of the
app. These defaults absorb bursts: 50,000 records logged at once by 4 threads are queued
while the worker catches up (~40k records/s on one core) and all delivered, also when the
process exits right after (tests/integration/handler/test_handler_burst.py).
When the queue, or the spool, is `shed_fraction` (80 %) full, records below `shed_level`
(default: DEBUG and INFO) are shed; WARNING and above are still taken until it is
completely full. Every drop is counted in `stats()["dropped"]` by reason (`queue_full`,
`queue_shed`, `spool_full`, `spool_shed`, `kafka_queue_full`, `delivery_failed`,
`shutdown_deadline`, `closed`, `recursion`, `emit_error`, `worker_crashed`,
`rejected:<kafka error>`; spool frames found corrupt on replay are counted in
`spool_corrupt_frames`) and reported on stderr, never through logging: the first drop at
once, then at most one line per `diagnostics_interval` seconds while drops continue, each
with the exact totals so far by reason, and a summary at close (also at interpreter exit)
when anything was dropped, e.g.

    kafka-logging: handler closed; 12,408 of 50,000 record(s) were dropped:
    queue_shed=12,408 (queue over 80% of 65,536 records / 64 MiB: below WARNING shed)

Durability policy (the spool)
-----------------------------
With `spool_dir` set, whenever Kafka is unreachable (all brokers down, the local queue
full, a delivery failed for a retriable reason) records go to an on-disk spool instead:
librdkafka's not-yet-sent messages are taken back into it first, in order, and new ones
follow. One spool per handler and process (`<spool_dir>/<destination>-<pid>-...spool`,
flock'ed by its owner), bounded by `spool_max_bytes`. While it holds anything, new
records are appended behind it so the topic receives them in logging order; a probe (the
oldest spooled record) is sent after 1 s, then backing off to every 10 s, and once Kafka
acknowledges it the
spool is replayed in order. The spool's position moves only past acknowledged messages.
Spooled records survive the process being killed (the data is in the page cache at once)
and are fsync'd every `spool_fsync_interval` seconds (a power loss can lose up to that
much). A process that starts with the same `spool_dir` and destination adopts the spools
of dead processes (exactly one process gets each, by its lock) and replays them first;
a running handler also looks for such spools every 30 s.
Records still in memory (the queue, librdkafka's buffer) when the process is killed are
lost; at `close()` they are delivered or, at the deadline, moved into the spool.
Without a spool, records wait in librdkafka's bounded buffer while Kafka is away, and
what does not fit, or is still undelivered at the close deadline, is dropped and counted.
Delivery is at least once: a retry after a lost acknowledgement can repeat a record,
which carries the same `event.id` (the Elasticsearch `_id`), so indexing stays idempotent.

Shutdown, fork, recursion
-------------------------
`flush(timeout)` waits until everything queued is acknowledged, or durably spooled while
Kafka is down; `close(timeout)` does the same and then stops the worker, both within
their deadline (`flush_timeout`, `close_timeout`; 5 s by default), also when the
`logging` module closes handlers at interpreter exit. A dead broker never hangs either.
After `os.fork()` the child starts with an empty queue, a fresh producer and worker and
its own spool; the parent's records stay the parent's (never sent twice). Under gevent or
eventlet monkey-patching the delivery worker is still a real OS thread (native.py), so a
greenlet that logs without yielding never starves it. Records logged on the worker's own
thread (e.g. by a library it calls) and librdkafka's log lines never come back through
the handler: they go to stderr, rate limited.

Kafka
-----
Idempotent producer, `acks=all`, zstd compression, `linger.ms=5`; `producer_config`
passes any librdkafka setting (TLS, SASL, ...) and overrides these (librdkafka checks
them at construction). After a fatal producer error (e.g. a broken idempotence sequence)
the producer is replaced; its unsent messages are spooled (or counted) first.

The message key (partitioning and order)
----------------------------------------
The key is `<service.name>/<host.hostname>/<process.pid>` (`key_field`: dotted paths into
the record, comma-separated, their values joined by "/"; None for no key). Kafka keeps order
within a partition, so every record of one process lands in one partition in the order it
was logged, while the processes of one service (gunicorn/uvicorn/Celery workers, replicas,
hosts) spread over the topic's partitions: N indexers share a busy service instead of one
indexer and one broker taking all of it. Trade-offs: records of different processes have no
order between them (they never had one in time either: use `@timestamp`); one very busy
process still fills one partition (`key_field="service.name,process.thread.id"` spreads
per thread, ordered per thread; `key_field=None` spreads every batch with librdkafka's
sticky partitioner, with no order at all). The key of the default, and of any key made only
of service.*, host.hostname and process.pid, is computed once per process.
Migration: until this release the key was `service.name` alone (all of a service in one
partition); `key_field="service.name"` keeps that, e.g. for a consumer that relies on the
order of all of a service's records.

Serializers
-----------
JSON by default; `serializer="avro"` gives Avro single-object encoding, or Confluent's wire
format when `schema_registry_url` is set (see kafka_logging.wire.avro).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
import weakref
from collections import deque
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from kafka_logging import speedups
from kafka_logging.config import StrictModel, format_validation_error
from kafka_logging.errors import ConfigError
from kafka_logging.handler import native, setup_check, shutdown
from kafka_logging.handler.budget import RECORD_COST, QueueBudget, extra_slots
from kafka_logging.handler.delivery import Worker, WorkerSettings
from kafka_logging.handler.diag import Diagnostics
from kafka_logging.handler.drops import CALLER_REASONS, DropReport
from kafka_logging.handler.ecs import ATTR_MESSAGE, ATTR_SPAN, EcsFormatter, render_message
from kafka_logging.handler.loguru_sink import record_from_loguru
from kafka_logging.handler.otel import span_capture
from kafka_logging.handler.redact import DEFAULT_KEYS, DEFAULT_PATTERNS, Redactor
from kafka_logging.handler.stats import Stats
from kafka_logging.handler.structlog_adapter import from_processor_formatter
from kafka_logging.wire import record as wire

DEFAULT_QUEUE_BYTES = 64 * 2**20
DEFAULT_KEY_FIELD = "service.name,host.hostname,process.pid"
_OWN_CALLBACKS = ("on_delivery", "error_cb", "logger", "delivery.report.only.error")
_LEVEL_NAMES = logging.getLevelNamesMapping()


class HandlerOptions(StrictModel):
    """Every KafkaHandler argument, validated (plain values from dictConfig/fileConfig too)."""

    bootstrap_servers: str = Field(min_length=1)
    topic: str = Field("application-logs", min_length=1, max_length=249)
    service_name: str | None = None
    service_version: str | None = None
    environment: str | None = None
    serializer: Literal["json", "avro"] = "json"
    schema_registry_url: str | None = None
    schema_registry_config: dict[str, Any] = Field(default_factory=dict)
    producer_config: dict[str, str | int | float | bool] = Field(default_factory=dict)
    key_field: str | None = DEFAULT_KEY_FIELD
    spool_dir: Path | None = None
    spool_max_bytes: int = Field(256 * 2**20, gt=0)
    spool_segment_bytes: int = Field(16 * 2**20, gt=0)
    spool_fsync_interval: float = Field(1.0, ge=0)
    max_queue_bytes: int = Field(DEFAULT_QUEUE_BYTES, ge=2**20)
    max_queue_records: int | None = Field(None, gt=0)
    max_buffer_bytes: int = Field(64 * 2**20, ge=2**20)
    max_record_bytes: int = Field(1_000_000 - 8192, ge=4096)
    shed_level: int = logging.WARNING
    shed_fraction: float = Field(0.8, gt=0, le=1)
    flush_timeout: float = Field(5.0, ge=0)
    close_timeout: float = Field(5.0, ge=0)
    redact: bool = True
    redact_keys: list[str] = Field(default_factory=lambda: list(DEFAULT_KEYS))
    redact_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_PATTERNS))
    capture_trace: bool = True
    diagnostics_interval: float = Field(10.0, ge=0)

    @field_validator("shed_level", mode="before")
    @classmethod
    def _level(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
            level = _LEVEL_NAMES.get(value.strip().upper())
            if level is None:
                raise ValueError(f"unknown logging level {value!r}")
            return level
        return value

    @field_validator("producer_config")
    @classmethod
    def _own_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        taken = sorted(k for k in value if k in _OWN_CALLBACKS)
        if taken:
            raise ValueError(f"{', '.join(taken)} are set by the handler itself")
        return value


def _validate(values: dict[str, Any]) -> HandlerOptions:
    try:
        return HandlerOptions.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, "KafkaHandler")) from None


def build_producer_config(options: HandlerOptions, service_name: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": options.bootstrap_servers,
        "client.id": f"kafka-logging-{service_name}"[:200],
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": "zstd",
        "linger.ms": 5,
        "message.timeout.ms": 300_000,
        "queue.buffering.max.messages": 100_000,
        "queue.buffering.max.kbytes": options.max_buffer_bytes // 1024,
        "message.max.bytes": 1_000_000,
    }
    config.update(options.producer_config)
    return config


def _check_librdkafka(config: dict[str, Any]) -> None:
    """Let librdkafka judge the settings now, without connecting (no bootstrap servers)."""
    from confluent_kafka import KafkaException, Producer  # noqa: PLC0415

    offline = {k: v for k, v in config.items() if k != "bootstrap.servers"}
    offline["logger"] = _Silent()  # its "no bootstrap.servers" warning is expected here
    try:
        Producer(offline)
    except (KafkaException, ValueError, TypeError) as exc:
        raise ConfigError(f"KafkaHandler: producer_config: {exc}") from None


class _Silent:
    def log(self, level: int, fmt: str, *args: Any) -> None:
        """Discard: the throwaway validation producer has nothing worth saying."""


def _default_service_name() -> str:
    env = os.environ.get("OTEL_SERVICE_NAME")
    if env:
        return env
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name.removesuffix(".py") or "python"


class KafkaHandler(logging.Handler):
    """Ships every record to Kafka as ECS; see the module docstring for the guarantees."""

    def __init__(
        self,
        bootstrap_servers: str | None = None,
        topic: str = "application-logs",
        *,
        service_name: str | None = None,
        service_version: str | None = None,
        environment: str | None = None,
        serializer: str = "json",
        schema_registry_url: str | None = None,
        schema_registry_config: dict[str, Any] | None = None,
        producer_config: dict[str, Any] | None = None,
        key_field: str | None = DEFAULT_KEY_FIELD,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_max_bytes: int = 256 * 2**20,
        spool_segment_bytes: int = 16 * 2**20,
        spool_fsync_interval: float = 1.0,
        max_queue_bytes: int = DEFAULT_QUEUE_BYTES,
        max_queue_records: int | None = None,
        max_buffer_bytes: int = 64 * 2**20,
        max_record_bytes: int = 1_000_000 - 8192,
        shed_level: int | str = logging.WARNING,
        shed_fraction: float = 0.8,
        flush_timeout: float = 5.0,
        close_timeout: float = 5.0,
        redact: bool = True,
        redact_keys: list[str] | tuple[str, ...] = DEFAULT_KEYS,
        redact_patterns: list[str] | tuple[str, ...] = DEFAULT_PATTERNS,
        capture_trace: bool = True,
        diagnostics_interval: float = 10.0,
        level: int | str = logging.NOTSET,
    ) -> None:
        super().__init__(level)
        values = {k: v for k, v in locals().items() if k in HandlerOptions.model_fields}
        values["bootstrap_servers"] = bootstrap_servers if bootstrap_servers is not None else ""
        for name in ("schema_registry_config", "producer_config"):
            if values[name] is None:
                values[name] = {}
        for name in ("redact_keys", "redact_patterns"):
            values[name] = list(values[name])
        options = _validate(values)
        self.options = options
        service = options.service_name or _default_service_name()
        try:
            redactor = Redactor(options.redact_keys, options.redact_patterns)
        except ValueError as exc:
            raise ConfigError(f"KafkaHandler: {exc}") from None
        self._formatter = EcsFormatter(
            service, options.service_version, options.environment,
            redactor if options.redact else None,
        )  # fmt: skip
        config = build_producer_config(options, service)
        _check_librdkafka(config)
        limit = min(
            options.max_record_bytes, int(config.get("message.max.bytes", 1_000_000)) - 8192
        )
        key_paths = tuple(
            tuple(path.strip().split("."))
            for path in (options.key_field or "").split(",")
            if path.strip()
        )
        capacity = options.max_queue_bytes // RECORD_COST
        if options.max_queue_records is not None:
            capacity = min(capacity, options.max_queue_records)
        self._settings = WorkerSettings(
            topic=options.topic,
            producer_config=config,
            encoding=wire.Encoding.JSON if options.serializer == "json" else wire.Encoding.AVRO,
            key_paths=key_paths,
            max_record_bytes=max(limit, 4096),
            spool_dir=options.spool_dir,
            spool_max_bytes=options.spool_max_bytes,
            spool_segment_bytes=options.spool_segment_bytes,
            spool_fsync_interval=options.spool_fsync_interval,
            shed_level=options.shed_level,
            shed_fraction=options.shed_fraction,
            max_queue=capacity,
            registry_url=options.schema_registry_url,
            registry_config=dict(options.schema_registry_config),
        )
        self._capture = span_capture() if options.capture_trace else None
        self._max_queue = capacity
        self._shed_depth = max(1, int(capacity * options.shed_fraction))
        self._shed_level = options.shed_level
        self._explain = _drop_reasons(options, capacity)
        self._abandoned: list[Any] = []
        self._loguru = threading.local()
        self._fresh_state()
        os.register_at_fork(after_in_child=functools.partial(_after_fork, weakref.ref(self)))
        shutdown.watch(self)  # SIGTERM and os._exit() paths that skip atexit (shutdown.py)

    def _fresh_state(self) -> None:
        self._queue: deque[logging.LogRecord] = deque()
        self._wake = native.Event()
        self._start_lock = native.Lock()
        self._stats = Stats()
        self._diag = Diagnostics(interval=self.options.diagnostics_interval)
        self._budget = QueueBudget()
        self._report = DropReport(
            self._stats, self._diag, self._explain, self.options.diagnostics_interval
        )
        self._worker: Worker | None = None
        self._worker_ident: int | None = None
        self._closed = False

    # -- the caller's path ---------------------------------------------------------------
    def handle(self, record: logging.LogRecord) -> bool:
        """Filter and emit without taking the handler lock: emit() is thread-safe."""
        rv = self.filter(record)
        if rv:
            if isinstance(rv, logging.LogRecord):  # Python 3.12+: a filter may replace it
                record = rv  # type: ignore[unreachable,unused-ignore]
            self.emit(record)
        return bool(rv)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if record.thread == self._worker_ident or self._closed:
                self._refuse(record)
                return
            message = record.msg
            if type(message) is dict and "_logger" in record.__dict__:
                record = from_processor_formatter(record)  # structlog's stdlib route
                message = record.msg
            if record.args:
                message = record.__dict__[ATTR_MESSAGE] = render_message(record)
            capture = self._capture
            if capture is not None:
                span = capture()
                if span is not None:
                    record.__dict__[ATTR_SPAN] = span
            queue = self._queue
            depth = len(queue) + self._budget.heavy
            if depth >= self._shed_depth and (
                depth >= self._max_queue or record.levelno < self._shed_level
            ):
                self._stats.drop("queue_full" if depth >= self._max_queue else "queue_shed")
                self._report.poll()
                return
            if record.exc_info or (type(message) is str and len(message) > RECORD_COST):
                self._budget.charge(record, extra_slots(message, bool(record.exc_info)))
            queue.append(record)
            if not self._wake.is_set():
                self._wakeup()
        except Exception as exc:  # noqa: BLE001 - emit() must never raise into the app
            self._stats.drop("emit_error")
            self._diag.say("emit", f"could not queue a record: {type(exc).__name__}: {exc}")

    def _wakeup(self) -> None:
        worker = self._worker
        if worker is None:
            with self._start_lock:
                if self._worker is None and not self._closed:
                    worker = Worker(
                        self._settings, self._queue, self._wake, self._formatter,
                        self._stats, self._diag, budget=self._budget, report=self._report,
                    )  # fmt: skip
                    worker.start()
                    self._worker = worker
                    self._worker_ident = worker.thread.ident if worker.thread else None
                    setup_check.run_once()  # says once if the logging setup loses records
                    shutdown.started(self)  # referenced until closed; flushed at os._exit()
        self._wake.set()

    def _refuse(self, record: logging.LogRecord) -> None:
        reason = "closed" if self._closed else "recursion"
        self._stats.drop(reason)
        self._diag.say(
            f"drop:{reason}",
            f"not shipping a record from {'a closed handler' if self._closed else 'its own thread'}"
            f": {record.levelname} {record.name}: {render_message(record)[:500]}",
        )

    def write(self, message: str) -> None:
        """loguru's sink protocol (`logger.add(handler)`): ship the loguru record that
        `message` carries (see loguru_sink.py); plain text is shipped as an INFO record."""
        self._loguru.wrote = True  # loguru's StreamSink calls flush() next: not a real one
        loguru_record = getattr(message, "record", None)
        if isinstance(loguru_record, dict):
            record = record_from_loguru(loguru_record)
        else:
            text = str(message).rstrip("\n")
            if not text:
                return
            record = logging.LogRecord("stream", logging.INFO, "", 0, text, None, None)
        if record.levelno >= self.level:
            self.handle(record)

    # -- control ---------------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:  # type: ignore[override]
        """Wait (at most `timeout`, default flush_timeout) until every queued record is
        acknowledged by Kafka, or durably spooled while it is down. True when all delivered.
        (Right after `write()` on the same thread, i.e. from loguru after each record, it
        returns at once: delivery goes on in the background as for every record.)"""
        if getattr(self._loguru, "wrote", False):
            self._loguru.wrote = False
            return not self._queue
        worker = self._worker
        if worker is None or worker.thread is None or not worker.thread.is_alive():
            return not self._queue
        done = native.Event()
        worker.request_flush(done)
        done.wait(self.options.flush_timeout if timeout is None else timeout)
        return worker.all_delivered()

    def close(self, timeout: float | None = None) -> None:
        """Deliver what is queued within `timeout` (default close_timeout), spool or count
        the rest, stop the worker. Never hangs on a dead broker. Idempotent."""
        with self._start_lock:
            already, self._closed = self._closed, True
        if not already:
            worker = self._worker
            if worker is not None and worker.thread is not None and worker.thread.is_alive():
                budget = self.options.close_timeout if timeout is None else timeout
                worker.close_deadline = time.monotonic() + budget
                worker.closing.set()
                self._wake.set()
                worker.thread.join(budget + 1.0)
            try:
                self._report.final(self._logged())
            except Exception as exc:  # noqa: BLE001 - close() runs at interpreter exit: never raise
                self._diag.say("close", f"no drop summary: {type(exc).__name__}: {exc}")
        shutdown.closed(self)
        super().close()

    def _logged(self) -> int:
        """Records that reached emit(): taken by the worker, still queued, or dropped there."""
        dropped = self._stats.dropped()
        early = sum(n for reason, n in dropped.items() if reason in CALLER_REASONS)
        return self._stats.taken + len(self._queue) + early

    def stats(self) -> dict[str, Any]:
        """Counters: enqueued, delivered, failed (by reason), spooled, replayed, dropped (by
        reason), queue_depth, last_error, in_flight, spool_bytes, kafka_down, speedups ("rust":
        the compiled hot path, or "python"; see kafka_logging.speedups)."""
        worker = self._worker
        spool = worker.spool if worker is not None else None
        return self._stats.snapshot(
            len(self._queue),
            in_flight=worker.in_flight() if worker is not None else 0,
            spool_bytes=spool.pending_bytes if spool is not None else 0,
            spool_corrupt_frames=spool.corrupt_frames if spool is not None else 0,
            kafka_down=worker.down if worker is not None else False,
            speedups=speedups.IMPLEMENTATION,
        )

    def _after_fork_child(self) -> None:
        worker = self._worker
        if worker is not None:
            worker.after_fork_in_child()
            self._abandoned.append(worker)  # its producer must never be destroyed here
        self._fresh_state()

    def __repr__(self) -> str:
        return (
            f"<KafkaHandler {self.options.bootstrap_servers}/{self.options.topic} "
            f"({logging.getLevelName(self.level)})>"
        )


def _drop_reasons(options: HandlerOptions, capacity: int) -> dict[str, str]:
    """What each drop reason means for this handler, for the drop report on stderr."""
    level = logging.getLevelName(options.shed_level)
    queue = f"{capacity:,} records / {options.max_queue_bytes / 2**20:g} MiB"
    spool = f"{options.spool_max_bytes / 2**20:g} MiB"
    share = f"{options.shed_fraction:.0%}"
    return {
        "queue_shed": f"queue over {share} of {queue}: below {level} shed",
        "queue_full": f"queue full ({queue})",
        "spool_shed": f"Kafka away and spool over {share} of {spool}: below {level} shed",
        "spool_full": f"Kafka away and spool full ({spool})",
        "kafka_queue_full": "Kafka away, librdkafka's buffer full and no spool_dir",
        "delivery_failed": "delivery failed and no spool_dir",
        "shutdown_deadline": "undelivered at the close deadline and no spool_dir",
        "closed": "logged after close()",
        "recursion": "logged by the handler's own thread",
        "emit_error": "emit() failed",
        "worker_crashed": "queued when the delivery thread crashed",
        "rejected": "Kafka refused the record",
        "produce": "produce() failed and no spool_dir",
    }


def _after_fork(ref: weakref.ref[KafkaHandler]) -> None:
    handler = ref()
    if handler is not None:
        handler._after_fork_child()
