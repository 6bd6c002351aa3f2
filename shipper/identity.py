"""File identity: device + inode, confirmed by a fingerprint of the file's head.

The inode alone is not an identity (inodes are reused, vector#23076), and a head fingerprint
alone ignores small files (Filebeat skips files under 1 KiB). We keep both: a file is "the same
file" when device and inode match AND the first `head_len` bytes hash to the stored value. The
fingerprint grows with the file up to `fingerprint_bytes`, so a 10-byte file is shipped and
later recognised just as a 10 MB one.

The identity string that goes into `event.id` is fixed when a file (generation) is first seen:
`<dev>-<ino>-<hash>` where the hash covers the full fingerprint when the file already had
that many bytes (deterministic: a re-read after a lost checkpoint yields the same ids), and
otherwise the head plus a random nonce (a short head cannot tell two generations apart).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

FileKey = tuple[int, int]  # (st_dev, st_ino)


def head_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class Head:
    """The first `length` bytes of a file, hashed."""

    length: int
    digest: str


def read_head(fd: int, limit: int) -> Head:
    data = os.pread(fd, limit, 0)
    return Head(len(data), head_hash(data))


def head_matches(fd: int, head: Head) -> bool:
    """True when the file's first head.length bytes hash to head.digest."""
    data = os.pread(fd, head.length, 0) if head.length else b""
    return len(data) == head.length and head_hash(data) == head.digest


def new_identity(key: FileKey, head: Head, fingerprint_bytes: int) -> str:
    dev, ino = key
    if head.length >= fingerprint_bytes:
        return f"{dev:x}-{ino:x}-{head.digest}"
    salted = hashlib.blake2b(head.digest.encode() + os.urandom(16), digest_size=16).hexdigest()
    return f"{dev:x}-{ino:x}-n{salted}"


def key_of(st: os.stat_result) -> FileKey:
    return (st.st_dev, st.st_ino)
