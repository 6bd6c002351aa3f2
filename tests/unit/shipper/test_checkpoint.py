"""Checkpoint file: versioned, self-checking, atomic."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from shipper.checkpoint import CheckpointStore, CorruptCheckpointError, Entry


def entry(offset: int = 42) -> Entry:
    return Entry("fe-1-abc", 1, 2, 1024, "abc", offset, "/var/log/a.log", "input-0")


def test_round_trip(tmp_path: Path) -> None:
    """What is saved is what is loaded; a missing file means first start (None)."""
    store = CheckpointStore(tmp_path / "sub" / "cp.json")
    assert store.load() is None
    store.save([entry(1), entry(2)])
    assert store.load() == [entry(1), entry(2)]


def test_save_leaves_no_temp_file_and_replaces_atomically(tmp_path: Path) -> None:
    """Only the checkpoint itself remains in the directory after saves."""
    store = CheckpointStore(tmp_path / "cp.json")
    store.save([entry(1)])
    store.save([entry(2)])
    assert [p.name for p in tmp_path.iterdir()] == ["cp.json"]
    assert store.load() == [entry(2)]


def test_a_changed_byte_is_detected_by_the_checksum(tmp_path: Path) -> None:
    """Editing an offset without the checksum is corruption, named as such."""
    store = CheckpointStore(tmp_path / "cp.json")
    store.save([entry(100)])
    data = store.path.read_bytes().replace(b'"offset": 100', b'"offset": 900')
    store.path.write_bytes(data)
    with pytest.raises(CorruptCheckpointError, match="checksum mismatch"):
        store.load()


def test_a_torn_file_is_corrupt_not_empty(tmp_path: Path) -> None:
    """Half a file (power loss) is an error, never 'no checkpoint'."""
    store = CheckpointStore(tmp_path / "cp.json")
    store.save([entry()])
    store.path.write_bytes(store.path.read_bytes()[:50])
    with pytest.raises(CorruptCheckpointError, match="not valid JSON"):
        store.load()


def test_an_unknown_version_is_refused(tmp_path: Path) -> None:
    """A checkpoint from a newer shipper is not guessed at."""
    store = CheckpointStore(tmp_path / "cp.json")
    store.save([entry()])
    document = orjson.loads(store.path.read_bytes())
    document["version"] = 99
    store.path.write_bytes(orjson.dumps(document))
    with pytest.raises(CorruptCheckpointError, match="version 99"):
        store.load()


def test_set_aside_keeps_the_corrupt_file_for_inspection(tmp_path: Path) -> None:
    """The operator's choice moves the bad file aside instead of deleting it."""
    store = CheckpointStore(tmp_path / "cp.json")
    store.path.write_text("garbage")
    moved = store.set_aside()
    assert moved.read_text() == "garbage"
    assert not store.path.exists()
