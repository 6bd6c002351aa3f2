"""File identity: device + inode + head fingerprint."""

from __future__ import annotations

import os
from pathlib import Path

from shipper.identity import Head, head_matches, new_identity, read_head


def test_full_fingerprint_identity_is_deterministic(tmp_path: Path) -> None:
    """Same inode, same full head: same identity (replays keep their event ids)."""
    path = tmp_path / "a.log"
    path.write_bytes(b"x" * 2000)
    fd = os.open(path, os.O_RDONLY)
    try:
        head = read_head(fd, 1024)
        assert head.length == 1024
        assert new_identity((1, 2), head, 1024) == new_identity((1, 2), head, 1024)
    finally:
        os.close(fd)


def test_short_head_identities_never_collide() -> None:
    """Two generations with the same short head (e.g. empty) get different identities."""
    head = Head(0, "e")
    assert new_identity((1, 2), head, 1024) != new_identity((1, 2), head, 1024)


def test_head_match_detects_new_content_under_the_same_inode(tmp_path: Path) -> None:
    """A rewritten file (inode reuse, truncate + rewrite) no longer matches its old head."""
    path = tmp_path / "a.log"
    path.write_bytes(b"first line\n")
    fd = os.open(path, os.O_RDONLY)
    try:
        head = read_head(fd, 1024)
        assert head_matches(fd, head)
        path.write_bytes(b"first line\nsecond\n")  # grows: the old head still matches
        assert head_matches(fd, head)
        path.write_bytes(b"other line\n")
        assert not head_matches(fd, head)
        path.write_bytes(b"")
        assert not head_matches(fd, head)
    finally:
        os.close(fd)
