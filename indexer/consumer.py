"""The indexer loop: poll -> decode -> route -> bulk -> resolve -> commit.

One thread (the caller of `run`) owns the consumer, the offset tracker and every queue; bulk
requests run on `batch.concurrency` daemon threads and hand their results back through a
queue. Offsets are committed only up to the lowest unresolved offset of each partition
(indexed, 409 duplicate, or acknowledged on the dead-letter topic).

Backpressure: when the bytes of records taken but not resolved reach
`consumer.max_buffered_bytes`, or Elasticsearch is unreachable, every owned partition is
paused; `consume()` keeps being called so the group membership stays alive. They resume
once Elasticsearch answers and the buffer is below half the limit.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from indexer.bulk import BulkResult, BulkSender, Doc, Outcome, backoff
from indexer.commit import CommitFailure, Committer
from indexer.dlq import DeadLetters
from indexer.metrics import HealthServer, Metrics
from indexer.route import Router
from indexer.template import install_template
from indexer.tracker import OffsetTracker, TopicPartition
from kafka_logging.errors import ConfigError, FatalError, RetryableError
from kafka_logging.kafka_diag import client_logger
from kafka_logging.wire.record import RecordDecodeError

if TYPE_CHECKING:
    from indexer.config import IndexerConfig
    from kafka_logging.engines.client import EngineClient

log = logging.getLogger(__name__)

_PARTITION_EOF = -191  # confluent_kafka.KafkaError._PARTITION_EOF: not an error
# How long a synchronous commit (revoke, shutdown) retries transient errors.
COMMIT_RETRY_SECONDS = 5.0

# What acknowledgement-driven committing requires: never taken from the operator.
FORCED_CONSUMER = {
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "partition.assignment.strategy": "cooperative-sticky",
}
FORCED_PRODUCER = {"enable.idempotence": True, "acks": "all"}


def consumer_config(config: IndexerConfig) -> dict[str, Any]:
    """kafka.consumer's defaults, the shared kafka.librdkafka keys that are not producer-only,
    kafka.consumer as written, then what committing requires."""
    conf = config.kafka.consumer_config()
    conf.update(FORCED_CONSUMER)
    conf["group.id"] = config.consumer.group_id
    conf["auto.offset.reset"] = config.consumer.auto_offset_reset
    return conf


def producer_config(config: IndexerConfig) -> dict[str, Any]:
    """The dead-letter producer's: kafka.producer's defaults, the shared kafka.librdkafka keys
    that are not consumer-only, kafka.producer as written, the deprecated dlq.librdkafka,
    then idempotence with acks=all."""
    conf = config.kafka.producer_config()
    conf.update(config.dlq.librdkafka)
    conf.update(FORCED_PRODUCER)
    return conf


def es_client(config: IndexerConfig) -> EngineClient:
    from kafka_logging.engines.client import connect  # noqa: PLC0415

    # Retries are ours (per item, with backoff); the client adds none unless configured to.
    return connect(config.elasticsearch)


class Indexer:
    """Consumes `consumer.topics` as group `consumer.group_id` into Elasticsearch until stop()."""

    def __init__(
        self,
        config: IndexerConfig,
        *,
        consumer: Any | None = None,
        producer: Any | None = None,
        es: EngineClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._config = config
        self._clock = clock
        self._wall = wall
        self._jitter = jitter
        self._stopping = threading.Event()
        self._fatal: str | None = None
        self._consumer: Any = consumer or self._make_consumer(config)
        producer = producer or self._make_producer(config)
        self._es = es if es is not None else es_client(config)
        self._sender = BulkSender(self._es, clock)
        self._router = Router(config.index.pattern, self._confluent_decoder(config))
        self._tracker = OffsetTracker()
        self._committer = Committer(self._consumer, self._tracker, clock)
        self._final_failure: CommitFailure | None = None
        self._drained = False
        self._dlq = DeadLetters(producer, config.dlq.topic, self._dead_lettered)
        self.metrics = Metrics()

        batch = config.batch
        self._max_docs = batch.max_docs
        self._max_bytes = batch.max_bytes
        self._max_wait = batch.max_wait
        self._concurrency = batch.concurrency
        self._max_buffered = config.consumer.max_buffered_bytes
        self._initial_backoff = config.retry.initial_backoff
        self._max_backoff = config.retry.max_backoff

        self._gen: dict[TopicPartition, int] = {}
        self._gens = itertools.count(1)
        self._ready: deque[Doc] = deque()
        self._ready_bytes = 0
        self._ready_since = 0.0
        self._retry: list[tuple[float, int, list[Doc]]] = []
        self._seq = itertools.count()
        self._jobs: queue.SimpleQueue[list[Doc] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[BulkResult] = queue.SimpleQueue()
        self._in_flight = 0
        self._buffered = 0
        self._paused = False
        self._repause = False
        self._closing = False
        self._es_unavailable: str | None = None
        self._last_progress = clock()
        self._next_housekeeping = 0.0
        self._lag_labels: set[TopicPartition] = set()
        self._health: dict[str, Any] = {"status": "starting", "updated": clock()}
        self._threads = [
            threading.Thread(target=self._bulk_thread, name=f"indexer-bulk-{i}", daemon=True)
            for i in range(self._concurrency)
        ]
        self._server: HealthServer | None = None
        if config.metrics.enabled:
            self._server = HealthServer(
                self.metrics, self.health, config.metrics.host, config.metrics.port
            )

    @staticmethod
    def _confluent_decoder(config: IndexerConfig) -> Callable[[bytes], Any] | None:
        if config.schema_registry.url is None:
            return None
        from indexer.registry import ConfluentAvroDecoder, registry_lookup  # noqa: PLC0415

        return ConfluentAvroDecoder(registry_lookup(config.schema_registry)).decode

    def _make_consumer(self, config: IndexerConfig) -> Any:
        from confluent_kafka import Consumer, KafkaException  # noqa: PLC0415

        conf = consumer_config(config)
        conf["error_cb"] = self._on_kafka_error
        conf["on_commit"] = self._on_commit
        conf.setdefault("logger", client_logger("indexer.kafka"))
        try:
            return Consumer(conf)
        except KafkaException as exc:
            raise ConfigError(f"kafka settings refused by librdkafka: {exc}") from None

    def _make_producer(self, config: IndexerConfig) -> Any:
        from confluent_kafka import KafkaException, Producer  # noqa: PLC0415

        conf = producer_config(config)
        conf["error_cb"] = self._on_kafka_error
        conf.setdefault("logger", client_logger("indexer.kafka"))
        try:
            return Producer(conf)
        except KafkaException as exc:
            raise ConfigError(f"dead-letter producer settings refused: {exc}") from None

    # ----------------------------------------------------------------- public

    def stop(self) -> None:
        """Ask run() to stop consuming, drain within shutdown_timeout, commit and return."""
        self._stopping.set()

    def health(self) -> dict[str, Any]:
        """The last health snapshot (thread safe); stalled when the loop itself stopped."""
        state = dict(self._health)
        age = self._clock() - state.pop("updated")
        if state["status"] == "ok" and age > self._config.metrics.stall_after:
            state = {"status": "stalled", "reason": f"indexer loop silent for {age:.0f}s"}
        return state

    @property
    def metrics_port(self) -> int | None:
        return self._server.port if self._server else None

    def run(self) -> None:
        """Index until stop(). Raises FatalError when it cannot go on."""
        try:
            if not self._install_template():
                return
            for thread in self._threads:
                thread.start()
            self._consumer.subscribe(
                list(self._config.consumer.topics),
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
            self._loop()
            self._drain(self._config.shutdown_timeout)
        finally:
            self._shutdown()
        failure = self._final_failure
        if failure is not None:
            message = (
                f"stopped, but the final commit of {failure.positions} failed ({failure.reason}):"
                " the next owner of those partitions reads their records again (harmless"
                " 409s; dead letters repeat under the same kl.dlq.id)"
            )
            if failure.rebalance:
                # Leaving while the group rebalances: nothing is lost and no member can
                # commit for a generation that is over; a warning, and a clean exit.
                log.warning("%s", message)
                return
            log.error("%s", message)
            raise FatalError(message)

    # ----------------------------------------------------------------- loop

    def _install_template(self) -> bool:
        """Detect the engine (an unsupported one is a FatalError) and install the template,
        before joining the consumer group: partitions go to indexers that can index. False
        when stop() came first (nothing consumed, nothing committed)."""
        delay = self._initial_backoff
        warned = 0.0
        while not self._stopping.is_set():
            step = "detect the search engine"
            try:
                engine = self._es.engine()
                if self._config.index.install_template:
                    step = "install the index template"
                    install_template(self._es, self._config.index)
                log.info("indexing into %s at %s", engine.name, self._es.url)
            except RetryableError as exc:
                self._health = {"status": "stalled", "reason": str(exc), "updated": self._clock()}
                now = self._clock()
                if now >= warned:  # rate limited: at most one warning a minute
                    warned = now + 60.0
                    log.warning(
                        "cannot %s yet (%s); not joining the consumer group until it"
                        " answers, retrying",
                        step,
                        exc,
                    )
                self._stopping.wait(delay * (0.5 + self._jitter()))
                delay = min(delay * 2, self._max_backoff)
            else:
                return True
        log.info("stopped before the search engine answered: nothing consumed")
        return False

    def _loop(self) -> None:
        from confluent_kafka import KafkaException  # noqa: PLC0415

        consume = self._consumer.consume
        fetch = self._config.consumer.fetch_batch
        take = self._take
        while not self._stopping.is_set():
            if self._fatal is not None:
                raise FatalError(self._fatal)
            now = self._clock()
            self._step(now)
            if now >= self._next_housekeeping:
                self._housekeeping(now)
            if self._in_flight:
                timeout = 0.005
            elif self._ready or self._retry or self._dlq.in_flight:
                timeout = 0.02
            else:
                timeout = 0.25
            try:
                messages = consume(fetch, timeout)
            except KafkaException as exc:
                error = exc.args[0] if exc.args else exc
                if getattr(error, "fatal", lambda: False)():
                    raise FatalError(f"Kafka consumer failed: {error}") from exc
                log.warning("consume: %s", error)
                continue
            for message in messages:
                take(message)

    def _step(self, now: float, wait: float = 0.0, force: bool = False, flow: bool = True) -> None:
        """Collect results, serve dead-letter acks, send what is due, apply backpressure."""
        self._collect(wait)
        self._dlq.poll(0)
        self._dispatch(now, force)
        if flow:
            self._flow()

    def _take(self, message: Any) -> None:
        err = message.error()
        if err is not None:
            if err.fatal():
                self._fatal = f"Kafka consumer failed: {err}"
            elif err.code() != _PARTITION_EOF:
                log.warning("consumer: %s", err)
            return
        tp = (message.topic(), message.partition())
        offset = message.offset()
        gen = self._gen.get(tp)
        if gen is None or not self._tracker.take(tp, offset):
            return
        value = message.value()
        headers = message.headers()
        try:
            doc = self._build(tp, offset, gen, message, value, headers)
        except RetryableError:
            return  # stopping while the registry is away: left unresolved, not committed
        except RecordDecodeError as exc:
            size = len(value or b"") + 700
            self._buffered += size
            self._dlq.send(
                tp,
                offset,
                gen,
                key=message.key(),
                value=value,
                headers=headers,
                reason=f"undecodable: {exc}",
                stage="decode",
                size=size,
            )
            return
        self._buffered += doc.size
        if not self._ready:
            self._ready_since = self._clock()
        self._ready.append(doc)
        self._ready_bytes += len(doc.source)

    def _build(
        self, tp: TopicPartition, offset: int, gen: int, message: Any, value: Any, headers: Any
    ) -> Doc:
        """Router.build, waiting out an unreachable schema registry (never dead-letter for it).
        If stop() comes first, the record stays unresolved: its offset is not committed."""
        delay = self._initial_backoff
        while True:
            try:
                return self._router.build(
                    tp, offset, gen, message.key(), value, headers, message.timestamp()[1]
                )
            except RetryableError as exc:
                if self._stopping.is_set():
                    raise
                log.warning("%s; retrying %s[%d]@%d", exc, tp[0], tp[1], offset)
                self._stopping.wait(delay * (0.5 + self._jitter()))
                delay = min(delay * 2, self._max_backoff)

    def _dispatch(self, now: float, force: bool) -> None:
        retry = self._retry
        if retry and retry[0][0] <= now:
            while retry and retry[0][0] <= now:
                for doc in heapq.heappop(retry)[2]:
                    self._ready.appendleft(doc)
                    self._ready_bytes += len(doc.source)
            force = True
        ready = self._ready
        while ready and self._in_flight < self._concurrency:
            due = (
                force
                or len(ready) >= self._max_docs
                or self._ready_bytes >= self._max_bytes
                or now - self._ready_since >= self._max_wait
            )
            if not due:
                return
            batch: list[Doc] = []
            size = 0
            while ready and len(batch) < self._max_docs and size < self._max_bytes:
                doc = ready.popleft()
                batch.append(doc)
                size += len(doc.source)
            self._ready_bytes -= size
            self._in_flight += 1
            self._jobs.put(batch)

    def _bulk_thread(self) -> None:
        while True:
            batch = self._jobs.get()
            if batch is None:
                return
            try:
                result = self._sender.send(batch)
            except Exception as exc:  # a bug here must not strand the batch: retried
                log.exception("bulk request raised; the batch will be retried")
                reason = f"bulk request raised {type(exc).__name__}: {exc}"
                result = BulkResult([(d, Outcome.RETRY, reason) for d in batch], 1, 0.0, reason)
            self._done.put(result)

    def _collect(self, wait: float) -> None:
        done = self._done
        try:
            result = done.get(timeout=wait) if wait > 0 else done.get_nowait()
        except queue.Empty:
            return
        while True:
            self._complete(result)
            try:
                result = done.get_nowait()
            except queue.Empty:
                return

    def _complete(self, result: BulkResult) -> None:
        self._in_flight -= 1
        metrics = self.metrics
        metrics.bulk_latency.observe(result.latency / max(result.requests, 1))
        self._note_availability(result.unavailable)
        resolve = self._tracker.resolve
        gens = self._gen
        now_wall = self._wall()
        latencies: list[float] = []
        indexed = duplicates = released = 0
        retry: list[Doc] = []
        for doc, outcome, reason in result.outcomes:
            if gens.get(doc.tp) != doc.generation:
                released += doc.size  # its partition was revoked meanwhile
            elif outcome is Outcome.OK:
                resolve(doc.tp, doc.offset)
                released += doc.size
                indexed += 1
                if doc.event_time is not None:
                    latencies.append(now_wall - doc.event_time)
            elif outcome is Outcome.DUPLICATE:
                resolve(doc.tp, doc.offset)
                released += doc.size
                duplicates += 1
            elif outcome is Outcome.RETRY:
                doc.attempts += 1
                retry.append(doc)
            else:
                self._dead_letter(doc, reason or "rejected by Elasticsearch")
        self._buffered -= released
        if latencies:
            metrics.end_to_end.observe_many(latencies)
        if indexed or duplicates:
            self._last_progress = self._clock()
            metrics.indexed.inc(indexed)
            metrics.duplicates.inc(duplicates)
        if retry:
            metrics.retries.inc(len(retry))
            attempts = max(d.attempts for d in retry)
            delay = backoff(attempts, self._initial_backoff, self._max_backoff, self._jitter())
            due = self._clock() + delay
            heapq.heappush(self._retry, (due, next(self._seq), retry))

    def _note_availability(self, unavailable: str | None) -> None:
        metrics = self.metrics
        if unavailable is not None:
            if self._es_unavailable is None:
                log.warning("Elasticsearch unavailable: %s", unavailable)
            self._es_unavailable = unavailable
            metrics.bulk_requests.labels("failed").inc()
            metrics.es_up.set(0)
        else:
            if self._es_unavailable is not None:
                log.warning("Elasticsearch answers again")
            self._es_unavailable = None
            metrics.bulk_requests.labels("ok").inc()
            metrics.es_up.set(1)

    def _dead_letter(self, doc: Doc, reason: str) -> None:
        self._dlq.send(
            doc.tp,
            doc.offset,
            doc.generation,
            key=doc.key,
            value=doc.value,
            headers=doc.headers,
            reason=reason,
            stage="index",
            size=doc.size,
        )

    def _dead_lettered(
        self, tp: TopicPartition, offset: int, generation: int, size: int, stage: str
    ) -> None:
        self._buffered -= size
        self.metrics.dead_lettered.labels(stage).inc()
        if self._gen.get(tp) == generation:
            self._tracker.resolve(tp, offset)
            self._last_progress = self._clock()

    def _flow(self) -> None:
        if self._es_unavailable is not None and not (self._in_flight or self._ready or self._retry):
            # No record left to probe Elasticsearch with (its partitions were revoked):
            # resume, and let the next bulk request find out.
            self._es_unavailable = None
        should_pause = self._buffered >= self._max_buffered or self._es_unavailable is not None
        if should_pause and (not self._paused or self._repause):
            self._set_paused(True)
        elif self._paused and not should_pause and self._buffered <= self._max_buffered // 2:
            self._set_paused(False)

    def _set_paused(self, paused: bool) -> None:
        from confluent_kafka import TopicPartition as KafkaTP  # noqa: PLC0415

        owned = [KafkaTP(t, p) for t, p in self._gen]
        if owned:
            if paused:
                self._consumer.pause(owned)
            else:
                self._consumer.resume(owned)
        if paused != self._paused:
            log.info(
                "%s %d partition(s): %d bytes buffered%s",
                "pausing" if paused else "resuming",
                len(owned),
                self._buffered,
                f", {self._es_unavailable}" if self._es_unavailable else "",
            )
        self._paused = paused
        self._repause = False
        self.metrics.paused.set(1 if paused else 0)

    # ----------------------------------------------------------------- commits

    def _on_commit(self, err: Any, partitions: list[Any]) -> None:
        self._committer.on_commit(err, partitions)

    def _housekeeping(self, now: float) -> None:
        from confluent_kafka import KafkaException  # noqa: PLC0415
        from confluent_kafka import TopicPartition as KafkaTP  # noqa: PLC0415

        self._next_housekeeping = now + self._config.consumer.commit_interval
        self._committer.commit_async()
        for topic, partition in self._tracker.partitions():
            pos = self._tracker.position((topic, partition))
            if pos is None:
                continue
            try:
                _low, high = self._consumer.get_watermark_offsets(
                    KafkaTP(topic, partition), cached=True
                )
            except KafkaException:
                continue
            if high >= 0:
                self._lag_labels.add((topic, partition))
                self.metrics.lag.labels(topic, str(partition)).set(max(high - pos, 0))
        self.metrics.buffered_bytes.set(self._buffered)
        self._health = self._health_now(now)

    def _health_now(self, now: float) -> dict[str, Any]:
        unresolved = self._tracker.unresolved()
        if unresolved == 0:
            self._last_progress = now
        state: dict[str, Any] = {
            "status": "ok",
            "partitions": len(self._gen),
            "unresolved": unresolved,
            "buffered_bytes": self._buffered,
            "paused": self._paused,
            "updated": now,
        }
        if self._stopping.is_set():
            state["status"] = "stopping"
        elif self._es_unavailable is not None:
            state.update(status="stalled", reason=self._es_unavailable)
        elif now - self._last_progress > self._config.metrics.stall_after:
            idle = now - self._last_progress
            state.update(status="stalled", reason=f"nothing resolved for {idle:.0f}s")
        return state

    # ----------------------------------------------------------------- rebalances

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        for p in partitions:
            tp = (p.topic, p.partition)
            self._gen[tp] = next(self._gens)
            self._tracker.assign(tp)
        if partitions:
            log.info("assigned %s", [(p.topic, p.partition) for p in partitions])
            # librdkafka keeps a partition's pause across revoke and re-assignment: one paused
            # while Elasticsearch was away, then lost and handed back after we resumed the
            # rest, would never be fetched again. Each assignment gets our state explicitly.
            _set_fetching(consumer, partitions, paused=self._paused)
        self._repause = self._paused

    def _on_revoke(self, _consumer: Any, partitions: list[Any]) -> None:
        tps = [(p.topic, p.partition) for p in partitions]
        if not self._closing:
            deadline = self._clock() + self._config.consumer.revoke_timeout
            while any(self._tracker.unresolved(tp) for tp in tps):
                now = self._clock()
                if now >= deadline:
                    log.warning("revoke: abandoning unresolved work of %s", tps)
                    break
                self._step(now, wait=0.02, force=True, flow=False)
            failure = self._committer.commit_sync(tps, self._clock() + COMMIT_RETRY_SECONDS)
            if failure is not None:
                log.warning(
                    "revoke: commit of %s failed (%s): their next owner reads those records"
                    " again (harmless 409s; dead letters repeat under the same kl.dlq.id)",
                    failure.positions,
                    failure.reason,
                )
        elif self._final_failure is not None or not self._drained:
            # close() gives the partitions up: the final commit if _drain() did not make it
            # (a fatal error), or a last chance for it.
            self._final_failure = self._committer.commit_sync(
                tps, self._clock() + COMMIT_RETRY_SECONDS
            )
        self._forget(tps)
        _set_fetching(_consumer, partitions, paused=False)  # no pause outlives the assignment
        if tps:
            log.info("revoked %s", tps)

    def _on_lost(self, consumer: Any, partitions: list[Any]) -> None:
        tps = [(p.topic, p.partition) for p in partitions]
        log.warning("lost %s: dropping their work without committing", tps)
        self._forget(tps)
        _set_fetching(consumer, partitions, paused=False)

    def _forget(self, tps: Iterable[TopicPartition]) -> None:
        gone = set(tps)
        for tp in gone:
            self._gen.pop(tp, None)
            self._tracker.drop(tp)
            if tp in self._lag_labels:
                self._lag_labels.discard(tp)
                self.metrics.lag.remove(tp[0], str(tp[1]))
        if not gone:
            return
        kept: deque[Doc] = deque()
        for doc in self._ready:
            if doc.tp in gone:
                self._buffered -= doc.size
                self._ready_bytes -= len(doc.source)
            else:
                kept.append(doc)
        self._ready = kept
        retry: list[tuple[float, int, list[Doc]]] = []
        for due, seq, docs in self._retry:
            keep = [d for d in docs if d.tp not in gone]
            self._buffered -= sum(d.size for d in docs if d.tp in gone)
            if keep:
                retry.append((due, seq, keep))
        heapq.heapify(retry)
        self._retry = retry

    # ----------------------------------------------------------------- shutdown

    def _drain(self, timeout: float) -> None:
        """After stop(): no more consuming; finish in-flight work until the deadline."""
        deadline = self._clock() + timeout
        self._health = self._health_now(self._clock())
        while self._tracker.unresolved():
            now = self._clock()
            if now >= deadline:
                log.warning(
                    "shutdown deadline: %d record(s) unresolved, left for the next owner",
                    self._tracker.unresolved(),
                )
                break
            self._step(now, wait=0.02, force=True, flow=False)
        self._final_failure = self._committer.commit_sync(
            None, max(deadline, self._clock() + COMMIT_RETRY_SECONDS)
        )
        self._drained = True

    def _shutdown(self) -> None:
        self._closing = True
        try:
            self._consumer.close()
        finally:
            for _ in self._threads:
                self._jobs.put(None)
            self._dlq.flush(1.0)
            if self._server is not None:
                self._server.close()

    def _on_kafka_error(self, err: Any) -> None:
        if err.fatal():
            self._fatal = f"Kafka client failed: {err}"
        else:
            log.debug("kafka: %s", err)


def _set_fetching(consumer: Any, partitions: list[Any], paused: bool) -> None:
    """Pause or resume `partitions` in librdkafka; a partition it does not know is skipped."""
    from confluent_kafka import KafkaException  # noqa: PLC0415

    if not partitions:
        return
    try:
        if paused:
            consumer.pause(partitions)
        else:
            consumer.resume(partitions)
    except KafkaException as exc:
        log.warning("could not %s %s: %s", "pause" if paused else "resume", partitions, exc)
