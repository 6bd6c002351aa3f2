"""Rotation edge cases with a fake Kafka: files never seen before a stop, copies, drained files."""

from __future__ import annotations

import gzip
import logging
import os
import time
from pathlib import Path

import pytest
from shipper_fakes import Rig

from shipper.checkpoint import CheckpointStore
from shipper.daemon import Shipper

EXCLUDING = [{"paths": ["LOGS/*.log"], "exclude": ["*.gz", "*.[0-9]"], "service": "svc"}]
MATCHING = [{"paths": ["LOGS/*.log", "LOGS/*.log.[0-9]"], "exclude": ["*.gz"], "service": "svc"}]


def rig_with(tmp_path: Path, inputs: list[dict[str, object]], **sections: object) -> Rig:
    logs = str(tmp_path / "logs")
    (tmp_path / "logs").mkdir(exist_ok=True)
    resolved = [
        {**i, "paths": [p.replace("LOGS", logs) for p in i["paths"]]}  # type: ignore[attr-defined]
        for i in inputs
    ]
    rig = Rig(tmp_path, inputs=resolved, **sections)
    rig.sink.auto = True
    return rig


def crash(rig: Rig) -> None:
    """Like SIGKILL: no final scan, no final checkpoint; the descriptors are released."""
    assert rig.shipper is not None
    for f in rig.shipper.files.values():
        f.close()
    rig.shipper = None


def ids(rig: Rig) -> dict[str, str]:
    return {r["message"]: r["event"]["id"] for r in rig.sink.delivered}


def test_a_file_born_and_rotated_away_while_stopped_is_shipped_in_order(tmp_path: Path) -> None:
    """Killed right after a rotation, two more rotations while down: the generation born just
    before the kill (now `a.log.1`, an excluded name, never seen) is shipped, after the older
    one and before the live file."""
    rig = rig_with(tmp_path, EXCLUDING)
    rig.write("a.log", "a1", "a2")
    rig.start()
    rig.pump()
    crash(rig)
    rig.write("a.log", "a3")
    os.rename(rig.logs / "a.log", rig.logs / "a.log.1")
    rig.write("a.log", "b1", "b2")  # born, then the shipper... is already down
    os.rename(rig.logs / "a.log.1", rig.logs / "a.log.2")
    os.rename(rig.logs / "a.log", rig.logs / "a.log.1")
    rig.write("a.log", "c1")
    rig.start()
    rig.pump(rounds=20)
    assert rig.delivered() == ["a1", "a2", "a3", "b1", "b2", "c1"]


def test_a_file_born_and_rotated_away_between_two_scans_is_shipped(tmp_path: Path) -> None:
    """Two rotations within one scan interval: the middle generation is found as a sibling."""
    rig = rig_with(tmp_path, EXCLUDING)
    rig.write("a.log", "a1")
    rig.start()
    rig.pump()
    os.rename(rig.logs / "a.log", rig.logs / "a.log.1")
    rig.write("a.log", "b1")
    os.rename(rig.logs / "a.log.1", rig.logs / "a.log.2")
    os.rename(rig.logs / "a.log", rig.logs / "a.log.1")
    rig.write("a.log", "c1")
    rig.pump(rounds=20)
    assert rig.delivered() == ["a1", "b1", "c1"]


def test_old_rotated_siblings_are_not_shipped(tmp_path: Path) -> None:
    """Rotated files last written before the last scan are history, not unseen files."""
    rig = rig_with(tmp_path, EXCLUDING)
    rig.write("a.log", "a1")
    rig.start()
    rig.pump()
    crash(rig)
    rig.write("a.log.7", "ancient")
    past = time.time() - 3600
    os.utime(rig.logs / "a.log.7", (past, past))
    rig.start()
    rig.pump()
    assert rig.delivered() == ["a1"]


def test_sigterm_records_a_file_created_after_the_last_scan(tmp_path: Path) -> None:
    """The final checkpoint of a graceful stop holds a file created since the last scan, so
    it is shipped even when it is rotated away (and looks old) before the next start."""
    rig = rig_with(tmp_path, EXCLUDING)
    rig.write("a.log", "a1")
    rig.start()
    rig.pump()
    rig.write("b.log", "b1")
    rig.stop()  # no tick between the write and the stop
    paths = [Path(e.path).name for e in CheckpointStore(rig.config.checkpoint.path).load() or []]
    assert "b.log" in paths
    os.rename(rig.logs / "b.log", rig.logs / "b.log.1")
    past = time.time() - 3600
    os.utime(rig.logs / "b.log.1", (past, past))
    rig.start()
    rig.pump()
    assert sorted(rig.delivered()) == ["a1", "b1"]


def test_a_new_identity_is_on_disk_before_its_first_record_is_produced(tmp_path: Path) -> None:
    """A kill right after the first produce cannot leave records whose identity is unknown."""
    rig = rig_with(tmp_path, EXCLUDING)
    rig.sink.auto = False
    rig.start()
    rig.write("a.log", "a1")
    rig.pump(rounds=1)
    assert len(rig.sink.queued) == 1
    [entry] = CheckpointStore(rig.config.checkpoint.path).load() or []
    assert Path(entry.path).name == "a.log"
    assert entry.offset == 0


def test_a_drained_rotated_file_is_not_shipped_again_at_restart(tmp_path: Path) -> None:
    """A rotated file drained and forgotten is remembered (checkpoint `forgotten`), so a
    restart soon after does not take it for an unseen sibling."""
    rig = rig_with(tmp_path, EXCLUDING)
    rig.write("a.log", "a1")
    rig.start()
    rig.pump()
    os.rename(rig.logs / "a.log", rig.logs / "a.log.1")
    rig.write("a.log", "b1")
    rig.pump(rounds=40)  # past idle_close_seconds: a.log.1 is forgotten
    assert rig.shipper is not None
    assert [Path(e.path).name for e in rig.shipper.forgotten.values()] == ["a.log.1"]
    rig.stop()
    rig.start()
    rig.pump()
    assert rig.delivered() == ["a1", "b1"]


def test_a_copy_found_by_the_globs_before_the_truncate_is_not_a_new_file(tmp_path: Path) -> None:
    """Globs that match rotated names: logrotate's copy (`a.log.1`) appears before the truncate;
    it is skipped as a copy, then adopted as the continuation: every line once, same ids."""
    rig = rig_with(tmp_path, MATCHING)
    rig.write("a.log", *[f"a{i}" for i in range(100)])
    rig.start()
    rig.pump()
    rig.write("a.log", "a-late")
    (rig.logs / "a.log.1").write_bytes((rig.logs / "a.log").read_bytes())
    rig.pump()  # the copy is seen while the original still holds the same bytes
    os.truncate(rig.logs / "a.log", 0)
    rig.write("a.log", "b1")
    rig.pump(rounds=20)
    delivered = rig.delivered()
    assert sorted(delivered) == sorted([*(f"a{i}" for i in range(100)), "a-late", "b1"])
    assert rig.shipper is not None
    assert rig.shipper.metrics.copies_skipped._value.get() == 1


def test_a_copy_found_at_restart_keeps_the_generations_event_ids(tmp_path: Path) -> None:
    """Killed after a copytruncate; the copy is found by the globs at restart: it continues the
    checkpointed generation (its ids), it is not shipped again from byte 0 under new ids."""
    rig = rig_with(tmp_path, MATCHING)
    rig.write("a.log", *[f"a{i}" for i in range(50)])
    rig.start()
    rig.pump()
    first = ids(rig)
    crash(rig)
    rig.write("a.log", "a-while-down")
    (rig.logs / "a.log.1").write_bytes((rig.logs / "a.log").read_bytes())
    rig.write("a.log", "b1", mode="w")
    rig.start()
    rig.pump(rounds=20)
    assert sorted(rig.delivered()) == sorted([*first, "a-while-down", "b1"])
    again = ids(rig)
    assert all(again[m] == first[m] for m in first)


def test_a_copy_shorter_than_what_was_read_is_still_the_generation(tmp_path: Path) -> None:
    """The copy-to-truncate window: the shipper read bytes the copy lacks (they are lost by
    copytruncate itself); the copy is still that generation, not a new file."""
    rig = rig_with(tmp_path, MATCHING)
    rig.write("a.log", "a1")
    rig.start()
    rig.pump()
    copy = (rig.logs / "a.log").read_bytes()
    rig.write("a.log", "a2-in-the-window")
    rig.pump()
    (rig.logs / "a.log.1").write_bytes(copy)
    os.truncate(rig.logs / "a.log", 0)
    rig.write("a.log", "b1")
    rig.pump(rounds=20)
    assert sorted(rig.delivered()) == ["a1", "a2-in-the-window", "b1"]


def test_a_checkpointed_file_compressed_while_stopped_is_read_from_its_offset(
    tmp_path: Path,
) -> None:
    """create + compress while the shipper is down: the checkpointed generation, now only in
    `a.log.1.gz`, is decompressed and read from its offset, with its own event ids."""
    rig = rig_with(tmp_path, EXCLUDING)
    rig.write("a.log", *[f"a{i}" for i in range(300)])
    rig.start()
    rig.pump()
    first = ids(rig)
    crash(rig)
    rig.write("a.log", "a-unread-1", "a-unread-2")
    with gzip.open(rig.logs / "a.log.1.gz", "wb") as out:
        out.write((rig.logs / "a.log").read_bytes())
    os.unlink(rig.logs / "a.log")
    rig.write("a.log", "b1")
    rig.start()
    rig.pump(rounds=20)
    assert rig.delivered()[300:] == ["a-unread-1", "a-unread-2", "b1"]
    again = ids(rig)
    assert all(again[m] == first[m] for m in first)


def test_a_generation_never_seen_and_compressed_while_stopped_is_read(tmp_path: Path) -> None:
    """A compressed rotation written since the last scan, holding no known generation, is a
    file the shipper never saw: decompressed and shipped. An old one is history."""
    rig = rig_with(tmp_path, EXCLUDING)
    rig.write("a.log", "a1")
    rig.start()
    rig.pump()
    crash(rig)
    with gzip.open(rig.logs / "a.log.2.gz", "wb") as out:
        out.write(b"old-1\n")
    past = time.time() - 3600
    os.utime(rig.logs / "a.log.2.gz", (past, past))
    with gzip.open(rig.logs / "a.log.1.gz", "wb") as out:
        out.write(b"unseen-1\nunseen-2\n")
    rig.start()
    rig.pump()
    assert rig.delivered() == ["a1", "unseen-1", "unseen-2"]


def test_a_drained_generation_compressed_later_is_not_read_again(tmp_path: Path) -> None:
    """delaycompress: the rotated file, drained and forgotten, is compressed at the next
    rotation; the .gz is recognised as that generation (running, and after a restart)."""
    rig = rig_with(tmp_path, EXCLUDING)
    rig.write("a.log", *[f"a{i}" for i in range(100)])
    rig.start()
    rig.pump()
    os.rename(rig.logs / "a.log", rig.logs / "a.log.1")
    rig.write("a.log", "b1")
    rig.pump(rounds=40)  # a.log.1 drained and forgotten
    with gzip.open(rig.logs / "a.log.2.gz", "wb") as out:
        out.write((rig.logs / "a.log.1").read_bytes())
    os.unlink(rig.logs / "a.log.1")
    rig.pump()
    rig.stop()
    rig.start()
    rig.pump()
    assert rig.delivered() == [*(f"a{i}" for i in range(100)), "b1"]


def test_every_drop_reason_is_exported_at_zero(tmp_path: Path) -> None:
    """record_too_large appears at 0 like the other reasons."""
    rig = rig_with(tmp_path, EXCLUDING)
    shipper = rig.start()
    text = shipper.metrics.registry.get_sample_value
    for reason in ("record_too_large", "truncated_unread", "line_truncated"):
        labels = {"reason": reason}
        assert text("kafka_logging_shipper_bytes_dropped_total", labels) == 0.0


def test_debug_logging_says_what_the_shipper_does(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """--log-level debug: files tracked, batches produced, checkpoints saved."""
    rig = rig_with(tmp_path, EXCLUDING)
    rig.write("a.log", "a1")
    with caplog.at_level(logging.DEBUG, logger="shipper"):
        rig.shipper = Shipper(rig.config, sink=rig.sink, clock=rig.clock)
        rig.shipper.start()
        rig.pump()
    text = caplog.text
    assert "tracking" in text
    assert "1 record(s), bytes 0-3" in text
    assert "checkpoint saved" in text
