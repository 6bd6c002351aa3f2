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
from dataclasses import dataclass, field

FileKey = tuple[int, int]  # (st_dev, st_ino)


def head_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class Head:
    """The first `length` bytes of a file, hashed (and the bytes, when read in this process)."""

    length: int
    digest: str
    data: bytes = field(default=b"", compare=False, repr=False)


def read_head(fd: int, limit: int) -> Head:
    data = os.pread(fd, limit, 0)
    return Head(len(data), head_hash(data), data)


def same_generation(candidate: Head, known: Head) -> bool:
    """True when a file whose head is `candidate` holds the generation `known` (a copy of it,
    made at any time): its first known.length bytes hash to known.digest; or, when the copy is
    shorter than the known head, it equals the start of the known head's bytes (known only
    when this process read them). Empty heads match nothing."""
    if candidate.length == 0 or known.length == 0:
        return False
    if candidate.length >= known.length:
        if candidate.length == known.length:
            return candidate.digest == known.digest
        if candidate.data:
            return head_hash(candidate.data[: known.length]) == known.digest
        return False
    return bool(known.data) and known.data[: candidate.length] == candidate.data


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
