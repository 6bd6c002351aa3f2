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
- files never seen: a new identity is in the checkpoint before any of its records is
  produced, and a graceful stop scans once more before the final checkpoint. At every scan
  (and at start, from the checkpoint's `scanned_at`), rotated siblings of a watched file
  (`app.log.1`, `app.log-20261207`, `0.log.<time>`, even when excluded from discovery)
  modified since the previous scan began and not tracked are shipped from their start, oldest
  first (a file created and rotated away between two scans or while stopped). Drained
  generations are remembered (checkpoint `forgotten`) while their file exists, so they are not
  taken for new files. Compressed rotations are not read: unread bytes in one are counted
  (compressed_unread).
- copytruncate: when a file shrinks, a file at a rotated name of it in the same directory
  holding the same generation (its first bytes equal the head; it may be shorter than what we
  read) is adopted as the continuation of the same identity (same event ids, nothing re-sent);
  the truncated file starts a new generation at byte 0. A file at a rotated name holding a
  tracked or drained generation is a copy: never shipped as a new file (counted in
  copies_skipped), whatever the timing of restarts.
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

import gzip
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kafka_logging.errors import FatalError, RetryableError
from shipper.acks import Batch, Window
from shipper.checkpoint import CheckpointStore, CorruptCheckpointError, Entry
from shipper.config import OnCorrupt, ShipperConfig, input_names
from shipper.discovery import Discovery, Found, compressed, live_names
from shipper.identity import (
    FileKey,
    Head,
    head_hash,
    head_matches,
    key_of,
    new_identity,
    read_head,
    same_generation,
)
from shipper.metrics import Metrics
from shipper.producer import KafkaSink, Progress, produce_all
from shipper.producer_pool import WorkerFailure, WorkerPool
from shipper.reader import Event
from shipper.tailer import InputRuntime, TrackedFile, open_file

log = logging.getLogger(__name__)

# A rotated sibling modified less than this before the last scan may still be one the shipper
# never saw (file timestamps come from a coarse kernel clock).
MTIME_MARGIN_SECONDS = 2.0
MAX_FORGOTTEN = 10_000  # generations remembered after they were drained (oldest dropped first)
PRUNE_FORGOTTEN_SECONDS = 60.0  # forget them once their file is gone; checked this often
TOMBSTONE_GRACE_SECONDS = 600.0  # ... once gone this long
GONE_WATCH_SECONDS = 60.0  # after a start, look this long for compressed checkpointed files


def _now_iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _family(name: str) -> set[str]:
    """A file name and the live names it could be a rotation of."""
    return {name, *live_names(name)}


def _related(path: str, directory: str, family: set[str]) -> bool:
    """`path` is in `directory` and shares a live name with `family`."""
    where, name = os.path.split(path)
    return where == directory and not family.isdisjoint(_family(name))


def _gzip_head(path: str, limit: int) -> Head | None:
    """The uncompressed head of a gzip file; None for other formats or a damaged file."""
    if not path.endswith(".gz"):
        return None
    try:
        with gzip.open(path, "rb") as f:
            data = f.read(limit)
    except (OSError, EOFError, zlib.error):
        return None
    return Head(len(data), head_hash(data), data)


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
        self.forced_start: str | None = None
        self.pending: dict[FileKey, Entry] = {}
        self.first_run = False
        self._rotation_state()
        self._load_checkpoint(on_corrupt or config.checkpoint.on_corrupt)
        self._saved: list[Entry] | None = None
        self._forgotten_changed = False
        self._started = False
        self._started_at = clock()
        self._debug = log.isEnabledFor(logging.DEBUG)  # per-batch lines only when asked
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

    def _rotation_state(self) -> None:
        self.forgotten: dict[FileKey, Entry] = {}  # drained generations (see checkpoint.py)
        self._forgotten_at: dict[FileKey, float] = {}  # clock time (absent: loaded at start)
        # Rotated siblings modified after this wall time may be files never seen (None: none
        # can be known, e.g. the very first start); the start of the previous scan.
        self.since: float | None = None
        self.scanned_at: float | None = None
        self._dirty = False  # an identity not yet in the checkpoint: save before reading
        self._skipped_copies: set[FileKey] = set()
        self._compressed_seen: set[FileKey] = set()
        self._next_prune = 0.0
        self._gone: dict[FileKey, Entry] = {}  # checkpointed at start, not found (first scan)
        self._gone_until = 0.0

    # ---- checkpoint -----------------------------------------------------------------------

    def _load_checkpoint(self, policy: OnCorrupt) -> None:
        try:
            state = self.store.load_state()
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
            return
        self.first_run = state is None
        if state is None:
            return
        self.pending = {(e.dev, e.ino): e for e in state.files}
        self.forgotten = {(e.dev, e.ino): e for e in state.forgotten}
        if state.scanned_at is not None:
            self.since = state.scanned_at - MTIME_MARGIN_SECONDS
        else:  # version 1: files were saved within a scan and a checkpoint interval
            lag = self.limits.scan_interval_seconds + self.config.checkpoint.interval_seconds
            self.since = state.written_at - lag - MTIME_MARGIN_SECONDS

    def entries(self) -> list[Entry]:
        return [f.entry() for f in self.files.values()] + list(self.pending.values())

    def save_checkpoint(self) -> None:
        entries = self.entries()
        self._dirty = False
        if entries == self._saved and not self._forgotten_changed:
            return
        self.store.save(entries, list(self.forgotten.values()), self.scanned_at)
        self._saved = entries
        self._forgotten_changed = False
        log.debug("checkpoint saved: %d file(s), %d forgotten", len(entries), len(self.forgotten))

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
        """First scan: match checkpointed files, find the ones rotated while we were stopped,
        and the rotated files written since the last scan that the shipper never saw."""
        now = self.clock()
        self.scan(now, first=True)
        self._started = True
        self.save_checkpoint()  # every identity found is known before anything is produced
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
        if self._dirty:  # a new identity: on disk before any of its records is produced
            self.save_checkpoint()
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
        if self._started and self.sink.fatal is None:
            # A last scan: a file created since the previous one is recorded (at its start)
            # in the final checkpoint, so the next start finds it even if it is rotated away
            # to a name the globs do not match meanwhile.
            try:
                self.scan(self.clock())
            except OSError as exc:
                log.warning("final scan failed: %s", exc)
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
        wall = self.wall()
        found = self.discovery.scan()
        watched = self._start_checkpointed(found, now) if first else {}
        for key, where in found.items():
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
        lives = {where.path: self.inputs[where.input] for where in found.values()}
        for path, runtime in watched.items():
            lives.setdefault(path, runtime)
        self._unseen_siblings(lives, found, now)
        if first:
            self._gone_until = now + GONE_WATCH_SECONDS
        elif self._gone and now >= self._gone_until:
            self._gone.clear()
        if now >= self._next_prune:
            self._prune_forgotten(now)
            self._next_prune = now + PRUNE_FORGOTTEN_SECONDS
        self.order = sorted(self.files.values(), key=lambda f: not f.rotated)
        self.scanned_at = wall
        self.since = wall - MTIME_MARGIN_SECONDS
        log.debug("scan: %d file(s) match, %d tracked", len(found), len(self.files))

    def _start_checkpointed(
        self, found: dict[FileKey, Found], now: float
    ) -> dict[str, InputRuntime]:
        """First scan: checkpointed files first, then the ones renamed (or copied) while we
        were stopped: a copy found for one of them is not a new file. Returns the checkpointed
        paths (their rotated siblings are looked at too)."""
        watched = {
            e.path: self.by_name[e.input] for e in self.pending.values() if e.input in self.by_name
        }
        for key, where in found.items():
            if key in self.pending:
                self._start(where, now, True)
        self._resolve_pending(now)
        return watched

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
        self._begin(where.path, fd, st, self.inputs[where.input], now, first, rotated=False)

    def _begin(
        self,
        path: str,
        fd: int,
        st: os.stat_result,
        runtime: InputRuntime,
        now: float,
        first: bool,
        rotated: bool,
    ) -> None:
        """Track a file just opened (`fd`): a checkpointed or drained generation resumes where
        it was acknowledged; a copy of a tracked one is skipped; anything else is new."""
        key = key_of(st)
        fingerprint = self.limits.fingerprint_bytes
        known = self._continued(fd, key, path, now)
        if known is not None and known is self.forgotten.get(key) and known.offset >= st.st_size:
            os.close(fd)  # drained, nothing new: stays forgotten
            return
        if known is not None:
            if self.forgotten.pop(key, None) is not None:
                self._forgotten_changed = True
                log.info("%s grew after it was drained; shipping from %d", path, known.offset)
            head = read_head(fd, known.head_len)
            identity, offset = known.identity, known.offset
            runtime = self.by_name.get(known.input, runtime)
        else:
            head = read_head(fd, fingerprint)
            twin = self._generation_of(head, path, key)
            if twin is not None or (rotated and head.length == 0):
                os.close(fd)
                if twin is not None and key not in self._skipped_copies:
                    self._skipped_copies.add(key)
                    self.metrics.copies_skipped.inc()
                    log.info(
                        "%s holds the generation of %s (same first %d bytes): a copy, not shipped "
                        "as a new file (it continues that generation if the original is truncated)",
                        path,
                        twin,
                        head.length,
                    )
                return
            identity = new_identity(key, head, fingerprint)
            offset = 0 if rotated else self._start_offset(fd, st.st_size, runtime, first)
            if rotated:
                log.info(
                    "%s: a rotated file written since the last scan that the shipper never saw; "
                    "shipping it first",
                    path,
                )
        f = self._track(key, path, runtime, identity, head, offset)
        f.size = st.st_size
        f.fd = fd
        f.last_active = now
        f.rotated = rotated
        self.open_files += 1
        log.debug("tracking %s (%s) from offset %d", path, identity, offset)
        if self.open_files > self.limits.max_open_files and not self._evict(now):
            self._close(f)

    def _continued(self, fd: int, key: FileKey, path: str, now: float) -> Entry | None:
        """The checkpointed (or drained) generation that the file open as `fd` still holds."""
        entry = self.pending.pop(key, None)
        if entry is not None:
            if head_matches(fd, Head(entry.head_len, entry.head_hash)):
                return entry
            if not self._adopt_copy_of(entry, now):
                self._gone[key] = entry  # perhaps compressed while we were stopped
            log.info("%s: new content under a known inode; shipping it from the start", path)
        gone = self.forgotten.get(key)
        if gone is not None and head_matches(fd, Head(gone.head_len, gone.head_hash)):
            return gone
        return None

    def _generation_of(
        self, head: Head, path: str, key: FileKey, deleted: bool = False
    ) -> str | None:
        """The path of a tracked or drained generation that a file with this head is a copy of:
        only a file at a rotated name (`app.log.1`) in the same directory as a file of the same
        live name (`app.log`, or another rotation of it) can be a copy; a file at a live name
        never is."""
        directory, name = os.path.split(path)
        family = set(live_names(name))
        if head.length == 0 or not family:
            return None
        for f in self.files.values():
            if (
                f.key != key
                and (deleted or f.deleted_since is None)
                and same_generation(head, f.head)
                and _related(f.path, directory, family)
            ):
                return f.path
        for k, gone in self.forgotten.items():
            if (
                k != key
                and same_generation(head, Head(gone.head_len, gone.head_hash))
                and _related(gone.path, directory, family)
            ):
                return gone.path
        return None

    def _adopt_copy_of(self, entry: Entry, now: float) -> bool:
        """A checkpointed file was truncated (copytruncate) while we were stopped: continue
        its identity from the copy, if one is in its directory (then True)."""
        runtime = self.by_name.get(entry.input)
        head = Head(entry.head_len, entry.head_hash)
        copy = self._find_copy(entry.path, (entry.dev, entry.ino), head)
        if runtime is None or copy is None:
            return False
        path, key, fd, size = copy
        log.info("%s was truncated while stopped; continuing from its copy %s", entry.path, path)
        f = self._track(key, path, runtime, entry.identity, head, entry.offset)
        f.size, f.fd, f.rotated, f.last_active = size, fd, True, now
        self.open_files += 1
        self.order = sorted(self.files.values(), key=lambda x: not x.rotated)
        return True

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
        self._dirty = True
        return f

    def _dropped(self, reason: str, nbytes: int) -> None:
        self.metrics.bytes_dropped.labels(reason).inc(nbytes)

    def _delivery_failed(self, err: Any) -> None:
        reason = err.name() if hasattr(err, "name") else str(err)
        self.metrics.delivery_failures.labels(reason).inc(getattr(err, "count", 1))

    def _find_in_dir(self, directory: str, key: FileKey) -> tuple[str, os.stat_result] | None:
        """The file with this device + inode in `directory` (never a compressed file: its
        inode can only be a reused one; compressed rotations are read by _compressed)."""
        try:
            with os.scandir(directory) as entries:
                for item in entries:
                    if item.inode() != key[1] or compressed(item.name):
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
            fd = None
            if runtime is not None and hit is not None:
                try:
                    fd = open_file(hit[0])
                except OSError as exc:
                    log.warning("cannot open rotated file %s: %s", hit[0], exc)
            head = Head(entry.head_len, entry.head_hash)
            if fd is not None and not head_matches(fd, head):
                os.close(fd)
                fd = None
            if runtime is None or hit is None or fd is None:
                # copytruncate while stopped, original gone; or compressed
                if not self._adopt_copy_of(entry, now):
                    log.info("checkpointed file %s is gone; forgetting it", entry.path)
                    self._gone[key] = entry
                continue
            path, st = hit
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
                self._forget(f, keep=not unread)
                return
            f.path, f.size, f.rotated = hit[0], hit[1].st_size, True
        if f.at_eof and now - f.last_active >= self.limits.idle_close_seconds:
            self._flush(f, now, force=True)
            if f.acks.idle and f.acks.rewind_to is None:
                self._forget(f, keep=True)

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
                self._forget(f, keep=True)  # its compressed copy may appear: recognise it
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

    def _forget(self, f: TrackedFile, keep: bool = False) -> None:
        """Stop tracking `f`; `keep`: it was drained and still exists, so remember its
        generation (a rotated name the globs match, or a recent sibling, is then recognised)."""
        self._close(f)
        f.acks.abandon_all()
        self.files.pop(f.key, None)
        if f in self.order:
            self.order.remove(f)
        if keep:
            self.forgotten.pop(f.key, None)
            self.forgotten[f.key] = f.entry()
            self._forgotten_at[f.key] = self.clock()
            while len(self.forgotten) > MAX_FORGOTTEN:
                del self.forgotten[next(iter(self.forgotten))]
            self._forgotten_changed = True
        log.debug("%s (%s) forgotten at offset %d", f.path, f.identity, f.committed)

    def _prune_forgotten(self, now: float) -> None:
        """Drop drained generations whose file has been gone from its directory for a while
        (its compressed copy, made when it vanished, is still recognised meanwhile)."""
        by_dir: dict[str, list[FileKey]] = {}
        for key, gone in self.forgotten.items():
            by_dir.setdefault(os.path.dirname(gone.path), []).append(key)
        for directory, keys in by_dir.items():
            try:
                with os.scandir(directory) as entries:
                    inodes = {e.inode() for e in entries}
            except OSError:
                inodes = set()
            for key in keys:
                since = self._forgotten_at.get(key, self._started_at)
                if key[1] not in inodes and now - since >= TOMBSTONE_GRACE_SECONDS:
                    del self.forgotten[key]
                    self._forgotten_at.pop(key, None)
                    self._forgotten_changed = True

    def _unseen_siblings(
        self, lives: dict[str, InputRuntime], found: dict[FileKey, Found], now: float
    ) -> None:
        """Rotated files next to a watched path (`app.log.1`, `app.log-20261207`, ..., even when
        excluded from discovery), modified since the previous scan began, that the shipper does
        not track: a file created and rotated away between two scans or while the shipper was
        stopped. Shipped from their start, oldest first, before the live files."""
        since = self.since
        if since is None:
            return
        by_dir: dict[str, dict[str, InputRuntime]] = {}
        for path, runtime in lives.items():
            directory, name = os.path.split(path)
            by_dir.setdefault(directory, {})[name] = runtime
        inodes = {key[1] for key in self.files} | {key[1] for key in found}
        candidates: list[tuple[int, str, InputRuntime]] = []
        for directory, names in by_dir.items():
            try:
                with os.scandir(directory) as entries:
                    for item in entries:
                        if item.inode() in inodes:
                            continue
                        live = next((n for n in live_names(item.name) if n in names), None)
                        if live is None or not item.is_file(follow_symlinks=False):
                            continue
                        st = item.stat(follow_symlinks=False)
                        key = key_of(st)
                        if (
                            (st.st_mtime < since and not (self._gone and compressed(item.name)))
                            or key in self._skipped_copies
                            or key in self._compressed_seen
                        ):
                            continue
                        candidates.append((st.st_mtime_ns, item.path, names[live]))
            except OSError:
                continue
        for _, path, runtime in sorted(candidates):
            if compressed(path):
                self._compressed(path, runtime, now)
                continue
            try:
                fd = open_file(path)
            except OSError:
                continue
            self._begin(path, fd, os.fstat(fd), runtime, now, first=False, rotated=True)

    def _compressed(self, path: str, runtime: InputRuntime, now: float) -> None:
        """A compressed rotation. When it holds a checkpointed generation that vanished while
        the shipper was stopped (compressed before it was read to its end), it is inflated
        into an unlinked temporary file and read from the checkpointed offset, under the
        generation's identity (same event ids). Other compressed files are not read."""
        try:
            st = os.stat(path)
        except OSError:
            return
        key = key_of(st)
        head = _gzip_head(path, self.limits.fingerprint_bytes)
        entry = None
        if head is not None:
            entry = next(
                (
                    e
                    for e in self._gone.values()
                    if same_generation(head, Head(e.head_len, e.head_hash))
                ),
                None,
            )
        drained = self.forgotten.get(key)
        if (
            head is None
            or (
                drained is not None
                and same_generation(head, Head(drained.head_len, drained.head_hash))
            )
            or (entry is None and self._generation_of(head, path, key, deleted=True))
        ):
            self._compressed_seen.add(key)  # not gzip, or a generation we have (had) already
            return
        fd = self._inflate(path)
        if fd is None:
            return  # being written (or damaged): tried again at the next scan
        self._compressed_seen.add(key)
        if entry is not None:
            del self._gone[(entry.dev, entry.ino)]
            runtime = self.by_name.get(entry.input, runtime)
            head = read_head(fd, entry.head_len)
            identity, offset = entry.identity, entry.offset
            log.info(
                "%s was compressed to %s unfinished; reading it from %d", entry.path, path, offset
            )
        else:
            identity, offset = new_identity(key, head, self.limits.fingerprint_bytes), 0
            log.info("%s: a compressed rotation of a file never seen; reading it", path)
        f = self._track(key, path, runtime, identity, head, offset)
        f.size, f.fd, f.rotated, f.last_active = os.fstat(fd).st_size, fd, True, now
        f.deleted_since = now  # an unlinked file: read to its end, never closed and reopened
        self.open_files += 1

    def _inflate(self, path: str) -> int | None:
        """A descriptor of `path` decompressed into an unlinked file next to the checkpoint."""
        try:
            with (
                gzip.open(path, "rb") as source,
                tempfile.TemporaryFile(dir=self.store.path.parent) as target,
            ):
                shutil.copyfileobj(source, target, 1 << 20)
                target.flush()
                return os.dup(target.fileno())
        except (OSError, EOFError, zlib.error) as exc:
            log.info("%s: cannot decompress it yet (%s)", path, exc)
            return None

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
        log.debug("%s: re-reading from %d after a failed delivery", f.path, target)
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
        if self._debug:
            log.debug(
                "%s: %d line(s) to a worker, bytes %d-%d", f.path, lines, start, start + len(region)
            )
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
        if self._debug:
            log.debug(
                "%s: %d record(s), bytes %d-%d", f.path, len(events), events[0][0], events[-1][1]
            )
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
        copy = self._find_copy(f.path, f.key, f.head)
        if copy is not None:
            path, key, fd, copy_size = copy
            log.info("%s was truncated; continuing from its copy %s", f.path, path)
            self._close(f)
            self.files.pop(f.key, None)
            f.key, f.path, f.fd, f.size, f.rotated = key, path, fd, copy_size, True
            self.open_files += 1
            self.files[key] = f
            if copy_size < f.head.length:  # the copy is the generation now: its head is ours
                f.head = read_head(fd, copy_size)
            if copy_size <= f.committed and f.committed > 0:
                # Everything the copy holds was acknowledged (the shipper read its last bytes
                # from the original, in logrotate's copy-to-truncate window): done with it.
                self._forget(f, keep=True)
            elif copy_size < f.read_offset:
                f.acks.abandon_all()
                f.rewind(f.committed)
            self.order = sorted(self.files.values(), key=lambda x: not x.rotated)
            self._dirty = True
            return
        assert f.fd is not None
        unread = max(0, f.size - f.read_offset)
        if unread:
            log.warning(
                "%s was truncated in place before %d byte(s) of it were read (no copy found; "
                "counted as truncated_unread); shipping the new content from the start",
                f.path,
                unread,
            )
            self.metrics.bytes_dropped.labels("truncated_unread").inc(unread)
        else:
            log.info(
                "%s was truncated (everything before was read; no copy found); shipping the new "
                "content from the start",
                f.path,
            )
        head = read_head(f.fd, fingerprint)
        f.restart(new_identity(f.key, head, fingerprint), head)
        f.size = size
        f.last_active = now
        self._dirty = True

    def _find_copy(
        self, original: str, original_key: FileKey, head: Head
    ) -> tuple[str, FileKey, int, int] | None:
        """A copytruncate copy of `original`'s generation `head`: in its directory, at a
        rotated name of the same live name, not tracked, holding that generation (its first
        bytes equal the head; it may be shorter than what was read: the copy-to-truncate
        window). The largest such file. Returns (path, key, open fd, size)."""
        if head.length == 0:
            return None
        directory, name = os.path.split(original)
        family = _family(name)
        best: tuple[str, FileKey, int, int] | None = None
        try:
            with os.scandir(directory) as entries:
                candidates = [
                    e.path
                    for e in entries
                    if e.is_file(follow_symlinks=False)
                    and not family.isdisjoint(live_names(e.name))
                    and not compressed(e.name)
                ]
        except OSError:
            return None
        for path in candidates:
            try:
                fd = open_file(path)
            except OSError:
                continue
            st = os.fstat(fd)
            key = key_of(st)
            if (
                key == original_key
                or key in self.files
                or key in self.forgotten
                or (best is not None and st.st_size <= best[3])
                or not same_generation(read_head(fd, self.limits.fingerprint_bytes), head)
            ):
                os.close(fd)
                continue
            if best is not None:
                os.close(best[2])
            best = (path, key, fd, st.st_size)
        if best is not None:
            self._skipped_copies.discard(best[1])
        return best
