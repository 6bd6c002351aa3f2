"""The checkpoint file: per file identity, the first byte not yet acknowledged by Kafka.

Format (JSON): {"format": FORMAT, "version": 2, "checksum": "blake2b:<hex>", "body": {...}}.
The body holds `files` (the tracked files), `forgotten` (generations fully shipped and no
longer tracked, kept while their file may still be found: a rotated name the globs match, or a
rotated sibling, is then recognised instead of shipped again) and `scanned_at` (wall time at
the start of the last scan whose discoveries the body holds: a rotated sibling written after
it may be a file the shipper never saw). Version 1 (files only) is read as well.
The checksum covers the canonical (sorted-key) encoding of the body, so a torn or edited file
is detected instead of silently re-reading everything (beats#25135, vector#20753). Writes are
atomic: temp file in the same directory, fsync, rename, fsync of the directory.

Entries are keyed by file identity (device + inode, confirmed by a head fingerprint), never
by path; the path is kept only to find a file that was renamed while we were stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from kafka_logging.errors import FatalError

FORMAT = "kafka-logging-shipper-checkpoint"
VERSION = 2
READABLE = (1, 2)


class CorruptCheckpointError(FatalError):
    """The checkpoint file exists but cannot be trusted."""


@dataclass(slots=True)
class Entry:
    identity: str
    dev: int
    ino: int
    head_len: int
    head_hash: str
    offset: int
    path: str
    input: str

    def to_json(self) -> dict[str, Any]:
        return {
            "identity": self.identity,
            "dev": self.dev,
            "ino": self.ino,
            "head_len": self.head_len,
            "head_hash": self.head_hash,
            "offset": self.offset,
            "path": self.path,
            "input": self.input,
        }

    @classmethod
    def from_json(cls, data: Any) -> Entry:
        if not isinstance(data, dict):
            raise TypeError("entry is not an object")
        ints = ("dev", "ino", "head_len", "offset")
        strs = ("identity", "head_hash", "path", "input")
        for name in ints:
            if not isinstance(data.get(name), int) or data[name] < 0:
                raise TypeError(f"entry field {name} is not a non-negative integer")
        for name in strs:
            if not isinstance(data.get(name), str):
                raise TypeError(f"entry field {name} is not a string")
        return cls(**{k: data[k] for k in (*strs, *ints)})


def _checksum(body: dict[str, Any]) -> str:
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return "blake2b:" + hashlib.blake2b(canonical, digest_size=32).hexdigest()


@dataclass(slots=True)
class State:
    """What a checkpoint holds."""

    files: list[Entry]
    forgotten: list[Entry] = field(default_factory=list)
    scanned_at: float | None = None  # None: unknown (version 1)
    written_at: float = 0.0


def encode(
    entries: list[Entry], forgotten: list[Entry] | None = None, scanned_at: float | None = None
) -> bytes:
    body: dict[str, Any] = {
        "written_at": round(time.time(), 3),
        "files": [e.to_json() for e in entries],
        "forgotten": [e.to_json() for e in forgotten or []],
    }
    if scanned_at is not None:
        body["scanned_at"] = round(scanned_at, 3)
    document = {"format": FORMAT, "version": VERSION, "checksum": _checksum(body), "body": body}
    return orjson.dumps(document, option=orjson.OPT_INDENT_2)


def decode(data: bytes, source: str) -> list[Entry]:
    """The entries in a checkpoint document. Raises CorruptCheckpointError naming the problem."""
    return decode_state(data, source).files


def decode_state(data: bytes, source: str) -> State:
    """The whole checkpoint document. Raises CorruptCheckpointError naming the problem."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise CorruptCheckpointError(f"{source}: not valid JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CorruptCheckpointError(f"{source}: not a shipper checkpoint file")
    if document.get("version") not in READABLE:
        raise CorruptCheckpointError(
            f"{source}: checkpoint version {document.get('version')!r} is not supported "
            f"(this shipper reads version {VERSION})"
        )
    body = document.get("body")
    if not isinstance(body, dict) or document.get("checksum") != _checksum(body):
        raise CorruptCheckpointError(f"{source}: checksum mismatch (the file was damaged)")
    files = body.get("files")
    forgotten = body.get("forgotten", [])
    if not isinstance(files, list) or not isinstance(forgotten, list):
        raise CorruptCheckpointError(f"{source}: body.files or body.forgotten is not a list")
    scanned_at = body.get("scanned_at")
    written_at = body.get("written_at", 0)
    if not isinstance(scanned_at, int | float | None) or not isinstance(written_at, int | float):
        raise CorruptCheckpointError(f"{source}: body.scanned_at or written_at is not a number")
    try:
        return State(
            [Entry.from_json(item) for item in files],
            [Entry.from_json(item) for item in forgotten],
            None if scanned_at is None else float(scanned_at),
            float(written_at),
        )
    except TypeError as exc:
        raise CorruptCheckpointError(f"{source}: {exc}") from None


class CheckpointStore:
    """Reads and atomically writes one checkpoint file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> list[Entry] | None:
        """The saved entries; None when there is no checkpoint yet (first start)."""
        state = self.load_state()
        return None if state is None else state.files

    def load_state(self) -> State | None:
        """The saved state; None when there is no checkpoint yet (first start)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise FatalError(f"cannot read checkpoint {self.path}: {exc.strerror}") from None
        return decode_state(data, str(self.path))

    def set_aside(self) -> Path:
        """Move a corrupt checkpoint out of the way (kept for inspection); return its new path."""
        target = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
        os.replace(self.path, target)
        return target

    def save(
        self,
        entries: list[Entry],
        forgotten: list[Entry] | None = None,
        scanned_at: float | None = None,
    ) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = encode(entries, forgotten, scanned_at)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            with contextlib.suppress(OSError):  # some filesystems refuse fsync on directories
                os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
