"""A bounded on-disk spool of encoded messages, replayed in order, surviving process death.

Layout in `spool_dir` (shared by any number of processes):
- segment files `<target>-<pid>-<start_ns>-<seq>.spool`: a header line
  `KLSPOOL 1 {json}` (version, topic, pid) then frames
  `[u32 length][u32 crc32][u16 key length | 0xFFFF for none][key][u8 len][encoding]
  [u8 len][event id][value]`, appended with one write() per batch;
- `<segment>.ack`: how far the segment has been acknowledged by Kafka (versioned JSON,
  written atomically: temp file, fsync, rename).

`<target>` names the destination (bootstrap servers + topic), so a handler only ever
adopts spools meant for the same place. Each process holds an exclusive `flock` on every
segment it owns, for as long as it lives. A segment whose lock can be taken belongs to a
dead process: the first process to lock it (re-checking the path still names the same
file, so a segment already replayed and deleted is never replayed again) replays it
before its own records, then deletes it. The kernel drops the locks of a killed process.

Durability: appended frames are in the OS page cache at once (they survive the process
being killed) and are fsync'd every `fsync_interval` seconds and at close (a power loss
can lose up to that much). A frame cut short by a crash or failing its CRC ends the
segment's replay there; the loss is counted and reported, never silent.
Acknowledgements move the replay position only past frames Kafka confirmed; a crash
between a delivery and the next ack-file write can replay a few records twice (their
`event.id` keeps Elasticsearch idempotent).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

SPOOL_VERSION = 1
_MAGIC = b"KLSPOOL"
_FRAME = struct.Struct(">II")
_NO_KEY = 0xFFFF


class Entry(NamedTuple):
    key: bytes | None
    value: bytes
    event_id: str
    encoding: str


class Position(NamedTuple):
    segment: int  # index into Spool._segments order (a serial, see Segment.serial)
    end: int  # byte offset just past the frame


def target_name(bootstrap_servers: str, topic: str) -> str:
    digest = hashlib.blake2b(f"{bootstrap_servers}\0{topic}".encode(), digest_size=6).hexdigest()
    return f"kl{digest}"


def encode_frame(entry: Entry) -> bytes:
    key = entry.key
    enc = entry.encoding.encode()
    eid = entry.event_id.encode()
    key_part = struct.pack(">H", _NO_KEY) if key is None else struct.pack(">H", len(key)) + key
    payload = b"".join((key_part, bytes((len(enc),)), enc, bytes((len(eid),)), eid, entry.value))
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def decode_payload(payload: bytes) -> Entry:
    (key_len,) = struct.unpack_from(">H", payload, 0)
    pos = 2
    key: bytes | None = None
    if key_len != _NO_KEY:
        key = payload[pos : pos + key_len]
        pos += key_len
    enc_len = payload[pos]
    encoding = payload[pos + 1 : pos + 1 + enc_len].decode()
    pos += 1 + enc_len
    eid_len = payload[pos]
    event_id = payload[pos + 1 : pos + 1 + eid_len].decode()
    pos += 1 + eid_len
    return Entry(key, payload[pos:], event_id, encoding)


@dataclass
class Segment:
    serial: int
    path: Path
    fd: int
    data_start: int  # offset of the first frame
    size: int  # bytes written (the file size)
    acked: int  # offset up to which Kafka confirmed
    read: int  # replay read cursor
    writable: bool
    ack_written: int = -1
    topic: str = ""

    @property
    def ack_path(self) -> Path:
        return self.path.with_name(self.path.name + ".ack")


@dataclass
class Spool:
    directory: Path
    target: str
    topic: str
    max_bytes: int = 256 * 2**20
    segment_bytes: int = 16 * 2**20
    fsync_interval: float = 1.0
    clock: Callable[[], float] = time.monotonic
    report: Callable[[str, str], object] = lambda topic, text: None
    corrupt_frames: int = 0
    _segments: list[Segment] = field(default_factory=list)
    _serial: int = 0
    _seq: int = 0
    _start_ns: int = field(default_factory=time.time_ns)
    _dirty: bool = False
    _last_sync: float = 0.0
    _opened: bool = False

    # -- lifecycle -----------------------------------------------------------------------
    def open(self) -> int:
        """Create the directory and adopt orphaned segments; how many were adopted."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._opened = True
        self._last_sync = self.clock()
        return self.adopt_orphans()

    def adopt_orphans(self) -> int:
        mine = {s.path.name for s in self._segments}
        found = sorted(
            (p for p in self.directory.glob(f"{self.target}-*.spool") if p.name not in mine),
            key=_segment_order,
        )
        adopted = 0
        for path in found:
            current = self._writable()
            segment = self._try_adopt(path)
            if segment is not None:
                if current is not None:  # keep list order == replay order == serial order
                    os.fsync(current.fd)
                    current.writable = False
                self._segments.append(segment)
                adopted += 1
        return adopted

    def _try_adopt(self, path: Path) -> Segment | None:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)  # its owner is alive (or another process adopted it first)
            return None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except OSError:
            same = False
        if not same:  # replayed and deleted by another process meanwhile
            os.close(fd)
            return None
        header_end, topic = _read_header(fd)
        if header_end < 0:
            self.report("spool", f"{path} is not a spool segment; left alone")
            os.close(fd)
            return None
        size = os.fstat(fd).st_size
        acked = max(_read_ack(path.with_name(path.name + ".ack")), header_end)
        self._serial += 1
        return Segment(
            self._serial, path, fd, header_end, size, min(acked, size), min(acked, size),
            writable=False, ack_written=acked, topic=topic,
        )  # fmt: skip

    def close(self) -> None:
        """fsync, record acknowledgements, release locks; unacked segments stay for later."""
        for segment in list(self._segments):
            self._finish_or_keep(segment, final=True)
        self._segments.clear()

    def abandon(self) -> None:
        """In a forked child: drop the parent's descriptors without touching any file."""
        for segment in self._segments:
            with contextlib.suppress(OSError):
                os.close(segment.fd)
        self._segments.clear()

    # -- writing -------------------------------------------------------------------------
    @property
    def pending_bytes(self) -> int:
        return sum(s.size - s.acked for s in self._segments)

    def pending(self) -> bool:
        return any(s.size > s.acked for s in self._segments)

    def fill_ratio(self) -> float:
        return self.pending_bytes / self.max_bytes

    def append(self, frames: list[bytes]) -> None:
        """Append encoded frames (see `encode_frame`) in order. The caller checked room."""
        if not frames:
            return
        data = b"".join(frames)
        segment = self._writable()
        if segment is None or segment.size + len(data) > self.segment_bytes:
            segment = self._new_segment()
        _write_all(segment.fd, data)
        segment.size += len(data)
        self._dirty = True

    def room(self, nbytes: int) -> bool:
        return self.pending_bytes + nbytes <= self.max_bytes

    def maybe_sync(self) -> None:
        now = self.clock()
        if self._dirty and now - self._last_sync >= self.fsync_interval:
            self.sync()
        if now - self._last_sync >= self.fsync_interval:
            self._write_acks()
            self._last_sync = now

    def sync(self) -> None:
        segment = self._writable()
        if segment is not None and self._dirty:
            os.fsync(segment.fd)
        self._dirty = False
        self._write_acks()
        self._last_sync = self.clock()

    def _writable(self) -> Segment | None:
        if self._segments and self._segments[-1].writable:
            return self._segments[-1]
        return None

    def _new_segment(self) -> Segment:
        current = self._writable()
        if current is not None:
            os.fsync(current.fd)
            current.writable = False
        self._seq += 1
        name = f"{self.target}-{os.getpid()}-{self._start_ns}-{self._seq:06d}.spool"
        path = self.directory / name
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        header = {"version": SPOOL_VERSION, "topic": self.topic, "pid": os.getpid()}
        line = _MAGIC + b" " + str(SPOOL_VERSION).encode() + b" " + json.dumps(header).encode()
        line += b"\n"
        _write_all(fd, line)
        os.fsync(fd)
        with contextlib.suppress(OSError):
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        self._serial += 1
        segment = Segment(
            self._serial, path, fd, len(line), len(line), len(line), len(line), writable=True,
            topic=self.topic,
        )  # fmt: skip
        self._segments.append(segment)
        return segment

    # -- replay --------------------------------------------------------------------------
    def read(self, max_count: int, max_bytes: int) -> list[tuple[Position, Entry]]:
        """Up to `max_count` entries past the read cursor, oldest first."""
        out: list[tuple[Position, Entry]] = []
        budget = max_bytes
        for segment in self._segments:
            while segment.read < segment.size and len(out) < max_count and budget > 0:
                got = self._read_frame(segment)
                if got is None:
                    break
                out.append(got)
                budget -= len(got[1].value)
            if len(out) >= max_count or budget <= 0:
                break
            if segment.read < segment.size:
                break  # a corrupt tail ended this segment; later ones wait their turn
        return out

    def _read_frame(self, segment: Segment) -> tuple[Position, Entry] | None:
        head = os.pread(segment.fd, _FRAME.size, segment.read)
        if len(head) < _FRAME.size:
            return self._corrupt(segment, "a frame header is cut short")
        length, crc = _FRAME.unpack(head)
        payload = os.pread(segment.fd, length, segment.read + _FRAME.size)
        if len(payload) < length or zlib.crc32(payload) != crc:
            return self._corrupt(segment, "a frame is cut short or fails its CRC")
        try:
            entry = decode_payload(payload)
        except (struct.error, IndexError, UnicodeDecodeError):
            return self._corrupt(segment, "a frame does not parse")
        segment.read += _FRAME.size + length
        return Position(segment.serial, segment.read), entry

    def _corrupt(self, segment: Segment, why: str) -> tuple[Position, Entry] | None:
        lost = segment.size - segment.read
        self.corrupt_frames += 1
        self.report("spool-corrupt", f"{segment.path}: {why} at byte {segment.read}; "
                    f"the remaining {lost} bytes of this segment cannot be replayed")  # fmt: skip
        segment.size = segment.read  # treat the rest as gone
        segment.writable = False
        return None

    def rewind(self) -> None:
        """Move the read cursor back to the acknowledged position (after failed deliveries)."""
        for segment in self._segments:
            segment.read = segment.acked

    def ack(self, position: Position) -> None:
        """Kafka confirmed every frame up to `position` (callers ack in order)."""
        for segment in list(self._segments):
            if segment.serial < position.segment:
                segment.acked = segment.size
                self._finish_or_keep(segment)
            elif segment.serial == position.segment:
                segment.acked = max(segment.acked, position.end)
                self._finish_or_keep(segment)
                break

    def _finish_or_keep(self, segment: Segment, final: bool = False) -> None:
        done = segment.acked >= segment.size
        if done and (not segment.writable or final):
            with contextlib.suppress(OSError):
                segment.path.unlink()
            with contextlib.suppress(OSError):
                segment.ack_path.unlink()
            os.close(segment.fd)
            self._segments.remove(segment)
            return
        if done and segment.writable:
            # Fully acked: start the next append in a fresh file so this one can go.
            segment.writable = False
            self._finish_or_keep(segment)
            return
        if final:
            if segment.writable:
                os.fsync(segment.fd)
            self._write_ack(segment)
            os.close(segment.fd)
            self._segments.remove(segment)

    def _write_acks(self) -> None:
        for segment in self._segments:
            if segment.acked != segment.ack_written:
                self._write_ack(segment)

    def _write_ack(self, segment: Segment) -> None:
        if segment.acked == segment.ack_written:
            return
        data = json.dumps({"version": SPOOL_VERSION, "acked": segment.acked}).encode()
        tmp = segment.ack_path.with_name(segment.ack_path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, segment.ack_path)
        segment.ack_written = segment.acked


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _segment_order(path: Path) -> tuple[int, int, str]:
    parts = path.stem.split("-")
    try:
        return int(parts[-2]), int(parts[-1]), path.name
    except (ValueError, IndexError):
        return 0, 0, path.name


def _read_header(fd: int) -> tuple[int, str]:
    head = os.pread(fd, 4096, 0)
    end = head.find(b"\n")
    if not head.startswith(_MAGIC + b" ") or end < 0:
        return -1, ""
    try:
        meta = json.loads(head[len(_MAGIC) + 1 : end].split(b" ", 1)[1])
    except (ValueError, IndexError):
        return -1, ""
    if not isinstance(meta, dict) or meta.get("version") != SPOOL_VERSION:
        return -1, ""
    return end + 1, str(meta.get("topic", ""))


def _read_ack(path: Path) -> int:
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return 0
    if isinstance(meta, dict) and meta.get("version") == SPOOL_VERSION:
        acked = meta.get("acked")
        return acked if isinstance(acked, int) else 0
    return 0
