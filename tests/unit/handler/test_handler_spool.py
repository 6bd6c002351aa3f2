"""The on-disk spool: order, acknowledgement, bounds, adoption of dead processes' spools."""

from __future__ import annotations

import os
from pathlib import Path

from kafka_logging.handler.spool import Entry, Spool, encode_frame


def spool_at(path: Path, **kwargs: object) -> Spool:
    spool = Spool(path, "kltarget", "topic", **kwargs)  # type: ignore[arg-type]
    spool.open()
    return spool


def entries(n: int, start: int = 0) -> list[Entry]:
    return [Entry(b"k", f"value-{i}".encode(), f"id-{i}", "json") for i in range(start, start + n)]


def test_read_returns_entries_in_append_order(tmp_path: Path) -> None:
    """Entries come back in the order appended, with key, value, id and encoding intact."""
    spool = spool_at(tmp_path)
    spool.append([encode_frame(e) for e in entries(5)])
    got = [entry for _, entry in spool.read(100, 2**20)]
    assert got == entries(5)


def test_key_none_round_trips(tmp_path: Path) -> None:
    """An entry without a key keeps None (not b'')."""
    spool = spool_at(tmp_path)
    spool.append([encode_frame(Entry(None, b"v", "i", "avro"))])
    assert spool.read(1, 2**20)[0][1] == Entry(None, b"v", "i", "avro")


def test_ack_deletes_fully_acknowledged_segments(tmp_path: Path) -> None:
    """Once every entry of a segment is acknowledged the files are removed."""
    spool = spool_at(tmp_path)
    spool.append([encode_frame(e) for e in entries(3)])
    read = spool.read(10, 2**20)
    spool.ack(read[-1][0])
    assert not spool.pending()
    assert list(tmp_path.iterdir()) == []


def test_rewind_rereads_unacknowledged(tmp_path: Path) -> None:
    """After a failed delivery, rewind() re-reads from the acknowledged position."""
    spool = spool_at(tmp_path)
    spool.append([encode_frame(e) for e in entries(4)])
    read = spool.read(10, 2**20)
    spool.ack(read[1][0])
    spool.rewind()
    again = [entry.event_id for _, entry in spool.read(10, 2**20)]
    assert again == ["id-2", "id-3"]


def test_room_is_bounded(tmp_path: Path) -> None:
    """room() refuses data beyond max_bytes of unacknowledged entries."""
    spool = spool_at(tmp_path, max_bytes=1000)
    frame = encode_frame(Entry(None, b"x" * 300, "i", "json"))
    assert spool.room(len(frame) * 3)
    assert not spool.room(len(frame) * 4)


def test_segments_roll(tmp_path: Path) -> None:
    """Appends beyond segment_bytes start a new segment; replay crosses segments in order."""
    spool = spool_at(tmp_path, segment_bytes=200)
    for e in entries(10):
        spool.append([encode_frame(e)])
    assert len(list(tmp_path.glob("*.spool"))) > 1
    ids = [entry.event_id for _, entry in spool.read(100, 2**20)]
    assert ids == [f"id-{i}" for i in range(10)]


def test_closed_spool_is_adopted_from_ack_position(tmp_path: Path) -> None:
    """A spool closed (or left by a dead process) is adopted and replayed from its ack point."""
    first = spool_at(tmp_path)
    first.append([encode_frame(e) for e in entries(5)])
    read = first.read(2, 2**20)
    first.ack(read[-1][0])
    first.close()
    second = Spool(tmp_path, "kltarget", "topic")
    assert second.open() == 1
    ids = [entry.event_id for _, entry in second.read(100, 2**20)]
    assert ids == ["id-2", "id-3", "id-4"]


def test_live_owner_keeps_its_spool(tmp_path: Path) -> None:
    """A segment locked by a live owner is not adopted by anyone else."""
    owner = spool_at(tmp_path)
    owner.append([encode_frame(e) for e in entries(2)])
    other = Spool(tmp_path, "kltarget", "topic")
    assert other.open() == 0
    owner.close()
    assert other.adopt_orphans() == 1


def test_other_destinations_are_left_alone(tmp_path: Path) -> None:
    """Spools of another destination (target) are never adopted."""
    owner = spool_at(tmp_path)
    owner.append([encode_frame(e) for e in entries(2)])
    owner.close()
    other = Spool(tmp_path, "klother", "topic")
    assert other.open() == 0


def test_adopted_once_even_when_deleted_meanwhile(tmp_path: Path) -> None:
    """A segment replayed and deleted by one adopter is not replayed by a second one."""
    owner = spool_at(tmp_path)
    owner.append([encode_frame(e) for e in entries(2)])
    owner.close()
    first = Spool(tmp_path, "kltarget", "topic")
    assert first.open() == 1
    read = first.read(10, 2**20)
    first.ack(read[-1][0])
    first.close()
    second = Spool(tmp_path, "kltarget", "topic")
    assert second.open() == 0


def test_torn_tail_is_reported_not_fatal(tmp_path: Path) -> None:
    """A frame cut short (crash mid-write) ends replay there and is reported."""
    reports: list[str] = []
    owner = spool_at(tmp_path)
    owner.append([encode_frame(e) for e in entries(3)])
    owner.close()
    path = next(tmp_path.glob("*.spool"))
    with path.open("r+b") as f:
        f.truncate(os.path.getsize(path) - 3)
    adopter = Spool(tmp_path, "kltarget", "topic", report=lambda t, text: reports.append(text))
    adopter.open()
    ids = [entry.event_id for _, entry in adopter.read(100, 2**20)]
    assert ids == ["id-0", "id-1"]
    assert adopter.corrupt_frames == 1
    assert "cut short" in reports[0]
