"""One tailed file: its identity, descriptor, read position, framing, multiline and acks."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from shipper.acks import Batch, FileAcks, Window
from shipper.checkpoint import Entry
from shipper.config import InputConfig, LimitsConfig
from shipper.container import ContainerDecoder, multiline_by_stream
from shipper.identity import FileKey, Head
from shipper.multiline import Multiline
from shipper.reader import Event, Line, LineFramer
from shipper.records import FileEncoder, RecordBuilder

OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOATIME", 0)


def open_file(path: str) -> int:
    try:
        return os.open(path, OPEN_FLAGS)
    except PermissionError:  # O_NOATIME needs ownership
        return os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))


class InputRuntime:
    """What every file of one input shares, built once."""

    def __init__(
        self, name: str, index: int, config: InputConfig, hostname: str, key_field: str | None
    ) -> None:
        self.name = name
        self.index = index
        self.config = config
        self.builder = RecordBuilder(config, hostname, key_field)


class TrackedFile:
    def __init__(
        self,
        key: FileKey,
        path: str,
        runtime: InputRuntime,
        identity: str,
        head: Head,
        offset: int,
        limits: LimitsConfig,
        window: Window,
        on_shipped: Callable[[Batch], None],
        on_failure: Callable[[Any], None],
    ) -> None:
        self.key = key
        self.path = path
        self.input = runtime
        self.identity = identity
        self.head = head
        self.fd: int | None = None
        self.size = offset
        self.mtime_ns = 0  # last modification time seen; a change triggers a head check
        fmt = runtime.builder.file_format(path)
        self.framer = LineFramer(
            offset,
            limits.max_line_bytes,
            limits.long_lines,
            limits.partial_line_timeout_seconds,
            # container pieces cut inside a character keep their bytes until joined
            errors="replace" if fmt is None else "surrogateescape",
        )
        self.container: ContainerDecoder | None = None
        if fmt is not None:
            self.container = ContainerDecoder(
                fmt,
                offset,
                limits.max_line_bytes,
                runtime.config.container.partial_flush_seconds,
            )
        ml = runtime.config.multiline
        self.multiline = Multiline(ml) if ml is not None else None
        self.acks = FileAcks(offset, window, on_shipped, on_failure)
        self.last_active = 0.0
        self.rotated = False  # no longer at a path the globs match (renamed away)
        self.deleted_since: float | None = None
        self.retry_at: float | None = None
        self.failures = 0
        self.dropped_reported = 0
        self._encoder: FileEncoder | None = None

    def encoder(self) -> FileEncoder:
        """The record encoder for this file's current path and identity (cached)."""
        enc = self._encoder
        if enc is None or enc.path != self.path or enc.identity != self.identity:
            enc = self._encoder = self.input.builder.for_file(self.path, self.identity)
        return enc

    @property
    def read_offset(self) -> int:
        return self.framer.next_offset

    @property
    def committed(self) -> int:
        return self.acks.committed

    @property
    def at_eof(self) -> bool:
        return self.read_offset >= self.size

    @property
    def has_pending(self) -> bool:
        """Bytes read but not yet shipped (partial line, open container partial group or
        multiline event)."""
        if self.framer.buf or self.framer.discard_from is not None:
            return True
        if self.container is not None and self.container.pending:
            return True
        return self.multiline is not None and bool(self.multiline.lines)

    def events(self, lines: list[Line], now: float) -> list[Event]:
        """Framed lines -> what is shipped: container lines decoded and joined, multiline."""
        if self.container is None:
            return self.multiline.feed(lines, now) if self.multiline is not None else lines
        decoded = self.container.feed(lines, now)
        if self.multiline is None:
            return list(decoded)
        return multiline_by_stream(self.multiline, decoded, now)

    def flush_events(self, lines: list[Line], now: float, force: bool) -> list[Event]:
        """What time (or `force`) closes, after `lines` (the framer's flushed partial line)."""
        container, multiline = self.container, self.multiline
        if container is None:
            if multiline is None:
                return list(lines)
            return multiline.feed(lines, now) + multiline.flush(now, force)
        decoded: list[Event] = []
        decoded += container.feed(lines, now)
        decoded += container.flush(now, self.framer.pending_start, force)
        if multiline is None:
            return decoded
        return multiline_by_stream(multiline, decoded, now) + multiline.flush(now, force)

    def rewind(self, offset: int) -> None:
        """Read again from `offset` (an event boundary at or after the committed offset)."""
        self.framer.reset(offset)
        if self.container is not None:
            self.container.reset(offset)
        if self.multiline is not None:
            self.multiline.reset()

    def restart(self, identity: str, head: Head) -> None:
        """A new generation of the same inode (truncated in place): ship it from byte 0."""
        self.acks.abandon_all()
        self.acks.rewind_to = None
        self.acks.committed = 0
        self.identity = identity
        self.head = head
        self.size = 0
        self.rewind(0)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def entry(self) -> Entry:
        dev, ino = self.key
        return Entry(
            identity=self.identity,
            dev=dev,
            ino=ino,
            head_len=self.head.length,
            head_hash=self.head.digest,
            offset=self.acks.committed,
            path=self.path,
            input=self.input.name,
        )
