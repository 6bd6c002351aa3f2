"""The shipper loop: discover -> read a chunk -> frame/multiline -> produce -> ack -> checkpoint.

One thread does everything (reading, producing, serving delivery reports), so no locks. The
in-flight window (limits.max_in_flight_bytes) is the backpressure: when Kafka does not
acknowledge, the window fills and reading pauses; memory stays bounded by the window plus
librdkafka's queue. Failed deliveries rewind their file (see acks.py).

Policies (documented in deploy/shipper.yaml):
- rename + create: the renamed file keeps its identity and is read to its end (rotated files
  first); it is closed and forgotten once drained, acknowledged and idle for idle_close_seconds.
- rotation while stopped: a checkpointed file not at its old path is looked for, by device +
  inode + head fingerprint, in its old directory and drained first.
- copytruncate: when a file shrinks, a copy in the same directory whose head matches it and
  which holds at least what we had read is adopted as the continuation of the same identity
  (same event ids, nothing re-sent); the truncated file starts a new generation at byte 0.
  Guarantee: every line written before the copy is shipped, provided the copy stays in the
  same directory uncompressed until drained (logrotate `delaycompress`, no `olddir`). Lines
  written between logrotate's copy and its truncate are lost by copytruncate itself.
- truncation in place (no copy found): a new generation from byte 0.
- deletion: a deleted file is read to its end through the open descriptor, then closed; if the
  output is blocked it is held at most deleted_file_hold_seconds, then closed and its unread
  bytes counted as dropped (reason deleted_hold_expired), so a blocked output never fills the
  disk with deleted files (beats#2395).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kafka_logging.errors import FatalError, RetryableError
from shipper.acks import Batch, Window
from shipper.checkpoint import CheckpointStore, CorruptCheckpointError, Entry
from shipper.config import OnCorrupt, ShipperConfig, input_names
from shipper.discovery import Discovery, Found
from shipper.identity import FileKey, Head, head_matches, key_of, new_identity, read_head
from shipper.metrics import Metrics
from shipper.producer import KafkaSink, Progress, produce_all
from shipper.producer_pool import WorkerFailure, WorkerPool
from shipper.reader import Event
from shipper.tailer import InputRuntime, TrackedFile, open_file

log = logging.getLogger(__name__)


def _now_iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _line_start_before(fd: int, size: int) -> int:
    """The offset just after the last newline before `size` (start at end, on a boundary)."""
    pos = size
    while pos > 0:
        step = min(65536, pos)
        data = os.pread(fd, step, pos - step)
        newline = data.rfind(b"\n")
        if newline >= 0:
            return pos - step + newline + 1
        pos -= step
    return 0


class Shipper:
    def __init__(
        self,
        config: ShipperConfig,
        *,
        on_corrupt: OnCorrupt | None = None,
        sink: Any = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.limits = config.limits
        self.clock = clock
        self.wall = wall
        self.hostname = config.hostname or socket.gethostname()
        self.stop_event = threading.Event()
        self.window = Window(self.limits.max_in_flight_bytes)
        self.metrics = Metrics()
        names = input_names(config)
        self.inputs = [
            InputRuntime(name, i, cfg, self.hostname, config.output.key)
            for i, (name, cfg) in enumerate(zip(names, config.inputs, strict=True))
        ]
        self.by_name = {r.name: r for r in self.inputs}
        self._read_counters = [self.metrics.lines_read.labels(r.name) for r in self.inputs]
        self._shipped_counters = [self.metrics.lines_shipped.labels(r.name) for r in self.inputs]
        self.discovery = Discovery([(i.paths, i.exclude) for i in config.inputs])
        self.store = CheckpointStore(config.checkpoint.path)
        self.files: dict[FileKey, TrackedFile] = {}
        self.order: list[TrackedFile] = []
        self.open_files = 0
        self.deferred: dict[FileKey, float] = {}
        self.forced_start: str | None = None
        self.pending: dict[FileKey, Entry] = {}
        self.first_run = False
        self._load_checkpoint(on_corrupt or config.checkpoint.on_corrupt)
        self._saved: list[Entry] | None = None
        self.pool: WorkerPool | None = None
        if sink is not None:
            self.sink = sink
            if hasattr(sink, "ship_region"):  # a WorkerPool (or a test's stand-in)
                self.pool = sink
        elif config.output.workers > 0:
            self.sink = self.pool = WorkerPool(config, self.hostname, on_dropped=self._dropped)
        else:
            self.sink = KafkaSink(config)
        chunk = self.limits.read_chunk_bytes
        # Regions of complete lines go to the workers unframed (see workers.py): needs every
        # line of a chunk to fit max_line_bytes.
        self._regions = self.pool is not None and self.limits.max_line_bytes >= chunk
        self.metrics.watch(self._lag, self._gauges)
        self.metrics_port: int | None = None
        self._next_scan = 0.0
        self._unreadable: set[str] = set()
        self._next_checkpoint = 0.0

    # ---- checkpoint -----------------------------------------------------------------------

    def _load_checkpoint(self, policy: OnCorrupt) -> None:
        try:
            entries = self.store.load()
        except CorruptCheckpointError as exc:
            if policy == "fail":
                raise FatalError(
                    f"{exc}.\nThe shipper will not guess. Choose explicitly: run with "
                    "--on-corrupt-checkpoint start-from-end (ship only what is written from now "
                    "on) or --on-corrupt-checkpoint start-from-beginning (ship every file again; "
                    "replays keep their event.id when the file had a full fingerprint), or set "
                    "checkpoint.on_corrupt."
                ) from None
            moved = self.store.set_aside()
            log.warning("%s; moved it to %s and starting %s", exc, moved, policy)
            self.forced_start = "end" if policy == "start-from-end" else "beginning"
            entries = []
        self.first_run = entries is None
        self.pending = {(e.dev, e.ino): e for e in entries or []}

    def entries(self) -> list[Entry]:
        return [f.entry() for f in self.files.values()] + list(self.pending.values())

    def save_checkpoint(self) -> None:
        entries = self.entries()
        if entries == self._saved:
            return
        self.store.save(entries)
        self._saved = entries

    # ---- metrics --------------------------------------------------------------------------

    def _lag(self) -> list[tuple[str, int]]:
        return [(f.path, max(0, f.size - f.committed)) for f in list(self.files.values())]

    def _gauges(self) -> dict[str, int]:
        return {
            "open_files": self.open_files,
            "tracked_files": len(self.files),
            "in_flight_bytes": self.window.in_flight,
        }

    # ---- the loop -------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask run() to finish in-flight deliveries, write the checkpoint and return."""
        self.stop_event.set()

    def run(self) -> None:
        metrics = self.config.metrics
        if metrics.enabled:
            try:
                self.metrics_port = self.metrics.serve(metrics.host, metrics.port)
            except OSError as exc:
                raise FatalError(
                    f"metrics: cannot listen on {metrics.host}:{metrics.port}: {exc.strerror}"
                ) from None
        try:
            self._loop()
        finally:
            self.shutdown()

    def _loop(self) -> None:
        self.start()
        while not self.stop_event.is_set():
            if not self.tick():
                self.sink.poll(self.limits.poll_interval_seconds)

    def start(self) -> None:
        """First scan: match checkpointed files, find the ones rotated while we were stopped."""
        now = self.clock()
        self.scan(now, first=True)
        self._resolve_pending(now)
        self._next_scan = now + self.limits.scan_interval_seconds
        self._next_checkpoint = now + self.config.checkpoint.interval_seconds

    def tick(self) -> bool:
        """One pass of the loop; True when it read something."""
        now = self.clock()
        if self.sink.fatal is not None:
            self.sink.rebuild()
        if now >= self._next_scan:
            if self.pool is not None:
                self.pool.check()
            self.scan(now)
            self._next_scan = now + self.limits.scan_interval_seconds
        try:
            worked = self.read_round(now)
        except RetryableError as exc:
            log.warning("%s; rebuilding the producer", exc)
            worked = False
        self.sink.poll(0)
        if now >= self._next_checkpoint:
            self.save_checkpoint()
            self._next_checkpoint = now + self.config.checkpoint.interval_seconds
        return worked

    def shutdown(self) -> None:
        deadline = self.clock() + self.limits.shutdown_timeout_seconds
        left = self.sink.drain(deadline, self.clock)
        if left:
            log.warning(
                "%d record(s) not acknowledged within the shutdown deadline; they are re-read "
                "at the next start",
                left,
            )
        self.save_checkpoint()
        for f in self.files.values():
            f.close()
        self.open_files = 0
        self.sink.close()
        self.metrics.close()

    # ---- discovery ------------------------------------------------------------------------

    def scan(self, now: float, first: bool = False) -> None:
        found = self.discovery.scan()
        items = list(found.items())
        if first:  # checkpointed files first: a copy found for one of them is not a new file
            items.sort(key=lambda item: item[0] not in self.pending)
        for key, where in items:
            f = self.files.get(key)
            if f is None:
                self._start(where, now, first)
                continue
            f.path = where.path
            f.rotated = False
            if f.fd is None:
                f.size = where.size
            elif (
                f.at_eof
                and not f.has_pending
                and now - f.last_active >= self.limits.idle_close_seconds
            ):
                self._close(f)
        for f in list(self.files.values()):
            if f.key not in found:
                self._missing(f, now)
        self.deferred = {k: v for k, v in self.deferred.items() if k in found}
        self.order = sorted(self.files.values(), key=lambda f: not f.rotated)

    def _start_offset(self, fd: int, size: int, runtime: InputRuntime, first: bool) -> int:
        start = "beginning"
        if first:
            if self.forced_start is not None:
                start = self.forced_start
            elif self.first_run:
                start = runtime.config.start_at
        return _line_start_before(fd, size) if start == "end" else 0

    def _start(self, where: Found, now: float, first: bool) -> None:
        try:
            fd = open_file(where.path)
        except OSError as exc:
            if where.path not in self._unreadable:  # say it once, keep retrying quietly
                self._unreadable.add(where.path)
                log.warning("cannot open %s: %s (retrying at every scan)", where.path, exc)
            return
        self._unreadable.discard(where.path)
        st = os.fstat(fd)
        if key_of(st) != where.key:
            os.close(fd)
            return
        runtime = self.inputs[where.input]
        fingerprint = self.limits.fingerprint_bytes
        entry = self.pending.pop(where.key, None)
        if entry is not None and head_matches(fd, Head(entry.head_len, entry.head_hash)):
            head = Head(entry.head_len, entry.head_hash)
            identity, offset = entry.identity, entry.offset
            runtime = self.by_name.get(entry.input, runtime)
        else:
            if entry is not None:
                self._adopt_copy_of(entry, now)
                log.info(
                    "%s: new content under a known inode; shipping it from the start", where.path
                )
            head = read_head(fd, fingerprint)
            if not first and self._looks_like_copy(where, head, now):
                os.close(fd)
                return
            identity = new_identity(where.key, head, fingerprint)
            offset = self._start_offset(fd, st.st_size, runtime, first)
        f = self._track(where.key, where.path, runtime, identity, head, offset)
        f.size = st.st_size
        f.fd = fd
        f.last_active = now
        self.open_files += 1
        if self.open_files > self.limits.max_open_files and not self._evict(now):
            self._close(f)

    def _adopt_copy_of(self, entry: Entry, now: float) -> None:
        """A checkpointed file was truncated (copytruncate) while we were stopped: continue
        its identity from the copy, if one is in its directory."""
        runtime = self.by_name.get(entry.input)
        head = Head(entry.head_len, entry.head_hash)
        copy = self._find_copy(entry.path, (entry.dev, entry.ino), head, entry.offset)
        if runtime is None or copy is None:
            return
        path, key, fd, size = copy
        log.info("%s was truncated while stopped; continuing from its copy %s", entry.path, path)
        f = self._track(key, path, runtime, entry.identity, head, entry.offset)
        f.size, f.fd, f.rotated, f.last_active = size, fd, True, now
        self.open_files += 1

    def _track(
        self, key: FileKey, path: str, runtime: InputRuntime, identity: str, head: Head, offset: int
    ) -> TrackedFile:
        shipped = self._shipped_counters[runtime.index]
        f: TrackedFile

        def on_shipped(batch: Batch) -> None:
            shipped.inc(batch.lines)
            f.failures = 0

        f = TrackedFile(
            key,
            path,
            runtime,
            identity,
            head,
            offset,
            self.limits,
            self.window,
            on_shipped,
            self._delivery_failed,
        )
        self.files[key] = f
        return f

    def _dropped(self, reason: str, nbytes: int) -> None:
        self.metrics.bytes_dropped.labels(reason).inc(nbytes)

    def _delivery_failed(self, err: Any) -> None:
        reason = err.name() if hasattr(err, "name") else str(err)
        self.metrics.delivery_failures.labels(reason).inc(getattr(err, "count", 1))

    def _looks_like_copy(self, where: Found, head: Head, now: float) -> bool:
        """A new file whose full fingerprint equals a tracked file's in the same directory may
        be a copytruncate copy: wait copy_wait_seconds for the original to shrink."""
        if head.length < self.limits.fingerprint_bytes:
            return False
        directory = os.path.dirname(where.path)
        twin = any(
            f.head == head and os.path.dirname(f.path) == directory for f in self.files.values()
        )
        if not twin:
            return False
        first_seen = self.deferred.setdefault(where.key, now)
        return now - first_seen < self.limits.copy_wait_seconds

    def _find_in_dir(self, directory: str, key: FileKey) -> tuple[str, os.stat_result] | None:
        try:
            with os.scandir(directory) as entries:
                for item in entries:
                    if item.inode() != key[1]:
                        continue
                    try:
                        st = item.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if key_of(st) == key:
                        return item.path, st
        except OSError:
            return None
        return None

    def _resolve_pending(self, now: float) -> None:
        """Checkpointed files not found by the globs: renamed while we were stopped?"""
        for key, entry in list(self.pending.items()):
            runtime = self.by_name.get(entry.input)
            hit = self._find_in_dir(os.path.dirname(entry.path), key)
            if runtime is None or hit is None:
                log.info("checkpointed file %s is gone; forgetting it", entry.path)
                continue
            path, st = hit
            try:
                fd = open_file(path)
            except OSError as exc:
                log.warning("cannot open rotated file %s: %s", path, exc)
                continue
            head = Head(entry.head_len, entry.head_hash)
            if not head_matches(fd, head):
                os.close(fd)
                continue
            log.info("%s was rotated to %s while stopped; draining it first", entry.path, path)
            f = self._track(key, path, runtime, entry.identity, head, entry.offset)
            f.size, f.fd, f.rotated, f.last_active = st.st_size, fd, True, now
            self.open_files += 1
        self.pending.clear()
        self.order = sorted(self.files.values(), key=lambda f: not f.rotated)

    def _missing(self, f: TrackedFile, now: float) -> None:
        """A tracked file the globs no longer find: renamed away, or deleted."""
        if f.fd is not None:
            if self._missing_open(f, now):
                return
        else:
            hit = self._find_in_dir(os.path.dirname(f.path), f.key)
            if hit is None:
                unread = max(0, f.size - f.read_offset)
                if unread:
                    log.warning("%s vanished with %d unread bytes", f.path, unread)
                    self.metrics.bytes_dropped.labels("gone_unread").inc(unread)
                self._forget(f)
                return
            f.path, f.size, f.rotated = hit[0], hit[1].st_size, True
        if f.at_eof and now - f.last_active >= self.limits.idle_close_seconds:
            self._flush(f, now, force=True)
            if f.acks.idle and f.acks.rewind_to is None:
                self._forget(f)

    def _missing_open(self, f: TrackedFile, now: float) -> bool:
        """_missing for a file we hold open; True when it was deleted (and handled)."""
        assert f.fd is not None
        st = os.fstat(f.fd)
        f.size = st.st_size
        if st.st_nlink > 0:
            if not f.rotated:
                f.rotated = True
                hit = self._find_in_dir(os.path.dirname(f.path), f.key)
                if hit is not None:
                    f.path = hit[0]
            return False
        if f.deleted_since is None:
            f.deleted_since = now
        if f.at_eof:
            self._flush(f, now, force=True)
            if f.acks.idle and f.acks.rewind_to is None:
                self._forget(f)
        elif now - f.deleted_since >= self.limits.deleted_file_hold_seconds:
            dropped = f.size - f.read_offset
            log.warning(
                "%s was deleted and held %.0fs while the output was blocked; closing it, "
                "%d unread bytes dropped",
                f.path,
                now - f.deleted_since,
                dropped,
            )
            self.metrics.bytes_dropped.labels("deleted_hold_expired").inc(dropped)
            self._forget(f)
        return True

    # ---- descriptors ----------------------------------------------------------------------

    def _close(self, f: TrackedFile) -> None:
        if f.fd is not None:
            f.close()
            self.open_files -= 1

    def _forget(self, f: TrackedFile) -> None:
        self._close(f)
        f.acks.abandon_all()
        self.files.pop(f.key, None)
        if f in self.order:
            self.order.remove(f)

    def _evict(self, now: float) -> bool:
        """Close the least recently active open file that is fully read; False if none."""
        victim: TrackedFile | None = None
        for f in self.files.values():
            if f.fd is None or f.deleted_since is not None or not f.at_eof:
                continue
            if victim is None or f.last_active < victim.last_active:
                victim = f
        if victim is None:
            return False
        self._close(victim)
        return True

    def _ensure_open(self, f: TrackedFile, now: float) -> bool:
        if f.fd is not None:
            return True
        if self.open_files >= self.limits.max_open_files and not self._evict(now):
            return False
        try:
            fd = open_file(f.path)
        except OSError:
            return False  # moved or gone: the next scan finds out
        st = os.fstat(fd)
        if key_of(st) != f.key:
            os.close(fd)
            return False
        f.fd = fd
        self.open_files += 1
        if not head_matches(fd, f.head):  # same inode, other bytes: truncated and rewritten
            self._truncated(f, st.st_size, now)
            return False
        return True

    # ---- reading and shipping -------------------------------------------------------------

    def read_round(self, now: float) -> bool:
        """Read at most one chunk from every file that has data, within the window."""
        worked = False
        window = self.window
        for f in self.order:
            if f.key not in self.files:
                continue
            if f.acks.rewind_to is not None and not self._rewind(f, now):
                continue
            if window.full:
                break
            if self._read(f, now):
                worked = True
            elif f.has_pending:
                self._flush(f, now)
        return worked

    def _rewind(self, f: TrackedFile, now: float) -> bool:
        """Apply a pending re-read once its backoff passed; False while waiting."""
        out = self.config.output
        if f.retry_at is None:
            delay = min(out.retry_backoff_max_seconds, out.retry_backoff_seconds * 2**f.failures)
            f.retry_at = now + delay
            f.failures += 1
            return False
        if now < f.retry_at:
            return False
        target = f.acks.rewind_to
        assert target is not None
        f.acks.rewind_to = None
        f.retry_at = None
        f.rewind(target)
        return True

    def _read(self, f: TrackedFile, now: float) -> bool:
        if f.fd is None and (f.size == f.read_offset or not self._ensure_open(f, now)):
            return False
        fd = f.fd
        assert fd is not None
        if self._replaced(f, fd, now):
            return True
        if f.size == f.read_offset:
            return False
        framer = f.framer
        chunk = self.limits.read_chunk_bytes
        if (
            self._regions
            and f.multiline is None
            and f.container is None
            and framer.plain
            and len(framer.buf) < chunk // 2
        ):
            return self._read_region(f, fd, now)
        offset = f.read_offset
        data = os.pread(fd, chunk, offset)
        if not data:
            return False
        self._seen(f, fd, offset, now)
        lines = framer.feed(data, now)
        dropped = f.framer.dropped - f.dropped_reported
        if dropped:
            self.metrics.bytes_dropped.labels("line_truncated").inc(dropped)
            f.dropped_reported = f.framer.dropped
        if lines:
            self._read_counters[f.input.index].inc(len(lines))
            events = f.events(lines, now)
            if events:
                self._ship(f, events)
        return True

    def _seen(self, f: TrackedFile, fd: int, offset: int, now: float) -> None:
        """Bytes were read at `offset`: the file is active; its head may have grown."""
        f.last_active = now
        if offset < self.limits.fingerprint_bytes and f.head.length < self.limits.fingerprint_bytes:
            head = read_head(fd, self.limits.fingerprint_bytes)
            if head.length > f.head.length:
                f.head = head

    def _read_region(self, f: TrackedFile, fd: int, now: float) -> bool:
        """Workers' path: read from the held partial line's start (it is read again with what
        follows it) and hand the complete lines to a worker unframed."""
        framer = f.framer
        start = framer.buf_start
        data = os.pread(fd, self.limits.read_chunk_bytes, start)
        if len(data) <= len(framer.buf):
            return False
        self._seen(f, fd, f.read_offset, now)
        region = framer.feed_region(data, now)
        if region:
            self._ship_region(f, start, region)
        return True

    def _replaced(self, f: TrackedFile, fd: int, now: float) -> bool:
        """Update f.size; True (after handling it) when the file was truncated."""
        st = os.fstat(fd)
        size = st.st_size
        if size < f.read_offset:
            self._truncated(f, size, now)
            return True
        if st.st_mtime_ns != f.mtime_ns or size != f.size:
            # Changed since we last looked (timestamps are coarse: the size counts too).
            f.mtime_ns = st.st_mtime_ns
            if not head_matches(fd, f.head):
                # Truncated and rewritten up to or past our offset between two looks
                # (copytruncate, then writes): the head tells, the size alone cannot.
                self._truncated(f, size, now)
                return True
        f.size = size
        return False

    def _flush(self, f: TrackedFile, now: float, force: bool = False) -> None:
        """Ship what time (or `force`) closes: an idle partial line, an idle multiline event."""
        if f.acks.rewind_to is not None:
            return
        lines = f.framer.flush_partial(now, force)
        if lines:
            self._read_counters[f.input.index].inc(len(lines))
        events = f.flush_events(lines, now, force)
        if events:
            self._ship(f, events)

    def _ship_region(self, f: TrackedFile, start: int, region: bytes) -> None:
        """Hand complete lines to a worker as one batch, counted down by its one report."""
        assert self.pool is not None
        lines = region.count(b"\n")
        self._read_counters[f.input.index].inc(lines)
        batch = f.acks.open(start)
        batch.remaining += 1
        batch.nbytes = len(region)
        timestamp = _now_iso(self.wall())
        try:
            self.pool.ship_region(
                batch, f.input.index, f.path, f.identity, timestamp, start, region
            )
        except BaseException:
            batch.on_delivery(WorkerFailure("_SEND_FAILED", lines), None)
            raise
        finally:
            f.acks.seal(batch, start + len(region), lines)

    def _ship_to_pool(self, f: TrackedFile, events: list[Event], timestamp: str) -> None:
        """Hand Lines the main process framed (multiline, partial, long) to a worker."""
        assert self.pool is not None
        batch = f.acks.open(events[0][0])
        batch.remaining += 1
        batch.nbytes = sum(len(e[2]) for e in events)
        try:
            self.pool.ship_events(batch, f.input.index, f.path, f.identity, timestamp, events)
        except BaseException:
            batch.on_delivery(WorkerFailure("_SEND_FAILED", len(events)), None)
            raise
        finally:
            f.acks.seal(batch, events[-1][1], len(events))

    def _ship(self, f: TrackedFile, events: list[Event]) -> None:
        """Produce one batch: every record's report counts it down (see acks.py)."""
        timestamp = _now_iso(self.wall())
        if self.pool is not None:
            self._ship_to_pool(f, events, timestamp)
            return
        batch = f.acks.open(events[0][0])
        batch.remaining += len(events)  # one record a line (the lines are framed events)
        done = Progress()
        try:
            produce_all(self.sink, f.encoder(), events, timestamp, batch.on_delivery, done)
        finally:
            if done.dropped:
                self.metrics.bytes_dropped.labels("record_too_large").inc(done.dropped)
            unproduced = len(events) - done.count
            batch.nbytes = done.nbytes
            if unproduced:  # not produced = not acknowledged: the batch fails, is re-read
                batch.remaining -= unproduced - 1
                f.acks.seal(batch, events[-1][1], len(events))
                batch.on_delivery(WorkerFailure("_NOT_PRODUCED", unproduced), None)
            else:
                f.acks.seal(batch, events[-1][1], len(events))

    def _truncated(self, f: TrackedFile, size: int, now: float) -> None:
        fingerprint = self.limits.fingerprint_bytes
        copy = self._find_copy(f.path, f.key, f.head, f.committed)
        if copy is not None:
            path, key, fd, copy_size = copy
            log.info("%s was truncated; continuing from its copy %s", f.path, path)
            self._close(f)
            self.files.pop(f.key, None)
            f.key, f.path, f.fd, f.size, f.rotated = key, path, fd, copy_size, True
            self.open_files += 1
            self.files[key] = f
            self.deferred.pop(key, None)
            if copy_size < f.read_offset:
                f.acks.abandon_all()
                f.rewind(f.committed)
            self.order = sorted(self.files.values(), key=lambda x: not x.rotated)
            return
        assert f.fd is not None
        log.warning(
            "%s was truncated in place (from at least %d to %d bytes); shipping it from the start",
            f.path,
            f.size,
            size,
        )
        unread = max(0, f.size - f.read_offset)
        if unread:
            self.metrics.bytes_dropped.labels("truncated_unread").inc(unread)
        head = read_head(f.fd, fingerprint)
        f.restart(new_identity(f.key, head, fingerprint), head)
        f.size = size
        f.last_active = now

    def _find_copy(
        self, original: str, original_key: FileKey, head: Head, min_size: int
    ) -> tuple[str, FileKey, int, int] | None:
        """A copytruncate copy: in the original's directory, not tracked, its head equal to
        `head`, at least `min_size` bytes. Returns (path, key, open fd, size)."""
        if head.length == 0:
            return None
        try:
            with os.scandir(os.path.dirname(original)) as entries:
                candidates = [e.path for e in entries if e.is_file(follow_symlinks=False)]
        except OSError:
            return None
        for path in candidates:
            try:
                st = os.stat(path)
            except OSError:
                continue
            key = key_of(st)
            if key == original_key or key in self.files or st.st_size < max(min_size, head.length):
                continue
            try:
                fd = open_file(path)
            except OSError:
                continue
            if key_of(os.fstat(fd)) == key and head_matches(fd, head):
                return path, key, fd, st.st_size
            os.close(fd)
        return None
