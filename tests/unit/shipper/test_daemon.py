"""The shipper loop with a fake Kafka and a fake clock: acks, rotation, truncation, limits."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from shipper_fakes import FakeSink, Rig

from kafka_logging.errors import FatalError


def test_checkpoint_moves_only_after_kafka_acknowledged(tmp_path: Path) -> None:
    """Produced is not enough: the offset moves when the delivery report arrives."""
    rig = Rig(tmp_path)
    rig.write("a.log", "one", "two", "three")
    rig.start()
    rig.pump()
    assert len(rig.sink.queued) == 3
    assert rig.checkpoint() == {"a.log": 0}
    rig.sink.deliver(2)
    rig.pump()
    assert rig.checkpoint() == {"a.log": 0}  # the batch is not complete yet
    rig.sink.deliver()
    rig.pump()
    assert rig.checkpoint() == {"a.log": 14}
    assert rig.delivered() == ["one", "two", "three"]


def test_failed_deliveries_are_reread_from_the_file_with_the_same_event_ids(
    tmp_path: Path,
) -> None:
    """A delivery failure (e.g. message timeout) re-sends the same records later."""
    rig = Rig(tmp_path)
    rig.write("a.log", "one", "two")
    rig.start()
    rig.pump()
    first_ids = [h[1][1] for h in [q[2] for q in rig.sink.queued]]
    rig.sink.fail()
    rig.pump(rounds=20)  # backoff 1s, then re-read
    again_ids = [h[1][1] for h in [q[2] for q in rig.sink.queued]]
    assert again_ids == first_ids
    rig.sink.deliver()
    rig.pump()
    assert rig.delivered() == ["one", "two"]
    assert rig.checkpoint() == {"a.log": 8}
    assert rig.shipper is not None
    failures = rig.shipper.metrics.delivery_failures.labels("_MSG_TIMED_OUT")._value.get()
    assert failures == 2


def test_reading_pauses_when_the_in_flight_window_is_full(tmp_path: Path) -> None:
    """Unacknowledged bytes are bounded; acknowledging lets reading continue."""
    rig = Rig(tmp_path, limits={"max_in_flight_bytes": 65536, "read_chunk_bytes": 4096})
    rig.write("a.log", *[f"{i:06d} " + "x" * 90 for i in range(5000)])
    rig.start()
    rig.pump(rounds=50)
    queued_bytes = sum(len(q[0]) for q in rig.sink.queued)
    assert 0 < queued_bytes <= 65536 + 2 * 4096 * 4
    assert len(rig.sink.queued) < 5000
    for _ in range(200):
        rig.sink.deliver()
        rig.pump(rounds=1)
    rig.sink.deliver()
    assert len(rig.delivered()) == 5000


def test_rename_rotation_drains_the_old_file_and_ships_the_new_one(tmp_path: Path) -> None:
    """Lines written to the renamed file after rotation are still shipped."""
    rig = Rig(tmp_path)
    rig.sink.auto = True
    rig.write("a.log", "a1", "a2")
    rig.start()
    rig.pump()
    os.rename(rig.logs / "a.log", rig.logs / "a.log.1")
    rig.write("a.log.1", "a3-late")
    rig.write("a.log", "b1")
    rig.pump()
    assert sorted(rig.delivered()) == ["a1", "a2", "a3-late", "b1"]


def test_rotation_while_stopped_is_recognised_and_drained_first(tmp_path: Path) -> None:
    """The renamed file is found by inode + fingerprint; its unshipped tail goes first."""
    rig = Rig(tmp_path)
    rig.sink.auto = True
    rig.write("a.log", "a1", "a2")
    rig.start()
    rig.pump()
    rig.stop()
    rig.write("a.log", "a3-while-stopped")
    os.rename(rig.logs / "a.log", rig.logs / "a.log.1")
    rig.write("a.log", "b1")
    rig.start()
    rig.pump()
    assert rig.delivered() == ["a1", "a2", "a3-while-stopped", "b1"]


def test_restart_resumes_without_duplicates(tmp_path: Path) -> None:
    """The checkpoint is honoured: nothing acknowledged is sent again."""
    rig = Rig(tmp_path)
    rig.sink.auto = True
    rig.write("a.log", "a1")
    rig.start()
    rig.pump()
    rig.stop()
    rig.write("a.log", "a2")
    rig.start()
    rig.pump()
    assert rig.delivered() == ["a1", "a2"]


def test_truncation_in_place_ships_the_new_content_with_new_ids(tmp_path: Path) -> None:
    """Same inode, new generation: shipped from byte 0, event ids differ from the old ones."""
    rig = Rig(tmp_path)
    rig.sink.auto = True
    rig.write("a.log", "old-1", "old-2")
    rig.start()
    rig.pump()
    rig.write("a.log", "new-1", mode="w")
    rig.pump()
    assert rig.delivered() == ["old-1", "old-2", "new-1"]
    ids = [r["event"]["id"] for r in rig.sink.delivered]
    assert ids[0] != ids[2]  # both at offset 0


def test_copytruncate_continues_from_the_copy_without_loss_or_duplicates(
    tmp_path: Path,
) -> None:
    """Lines written before the copy but not yet read are read from the copy."""
    rig = Rig(tmp_path)
    rig.sink.auto = True
    rig.write("a.log", "a1", "a2")
    rig.start()
    rig.pump()
    rig.write("a.log", "a3-unread")
    (rig.logs / "a.log.1").write_bytes((rig.logs / "a.log").read_bytes())
    os.truncate(rig.logs / "a.log", 0)
    rig.write("a.log", "b1")
    rig.pump(rounds=30)
    assert sorted(rig.delivered()) == ["a1", "a2", "a3-unread", "b1"]


def test_copytruncate_while_stopped_continues_from_the_copy(tmp_path: Path) -> None:
    """The checkpointed inode now holds other bytes: its copy is found and drained."""
    rig = Rig(tmp_path)
    rig.sink.auto = True
    rig.write("a.log", "a1")
    rig.start()
    rig.pump()
    rig.stop()
    rig.write("a.log", "a2-while-stopped")
    (rig.logs / "a.log.1").write_bytes((rig.logs / "a.log").read_bytes())
    rig.write("a.log", "b1", mode="w")
    rig.start()
    rig.pump()
    assert sorted(rig.delivered()) == ["a1", "a2-while-stopped", "b1"]


def test_deleted_file_is_read_to_its_end_then_closed(tmp_path: Path) -> None:
    """Deleting a file we hold open loses nothing and releases the descriptor."""
    rig = Rig(tmp_path)
    rig.sink.auto = True
    rig.write("a.log", "a1")
    rig.start()
    rig.pump(rounds=1)
    rig.write("a.log", *[f"more-{i}" for i in range(100)])
    os.unlink(rig.logs / "a.log")
    rig.pump()
    assert len(rig.delivered()) == 101
    assert rig.shipper is not None
    assert rig.shipper.open_files == 0
    assert rig.checkpoint() == {}


def test_deleted_file_is_not_held_forever_when_the_output_is_blocked(tmp_path: Path) -> None:
    """After deleted_file_hold_seconds the file is closed and its unread bytes counted."""
    rig = Rig(
        tmp_path,
        limits={
            "max_in_flight_bytes": 65536,
            "read_chunk_bytes": 4096,
            "deleted_file_hold_seconds": 10,
        },
    )
    rig.write("a.log", *["x" * 200 for _ in range(2000)])
    rig.start()
    rig.pump()
    os.unlink(rig.logs / "a.log")
    rig.pump(rounds=60)  # 12 s with Kafka not acknowledging
    assert rig.shipper is not None
    assert rig.shipper.open_files == 0
    dropped = rig.shipper.metrics.bytes_dropped.labels("deleted_hold_expired")._value.get()
    assert dropped > 0


def test_descriptors_stay_bounded_with_many_files(tmp_path: Path) -> None:
    """60 files, at most 4 open: every line still ships, idle files are reopened."""
    rig = Rig(tmp_path, limits={"max_open_files": 4, "idle_close_seconds": 0.5})
    rig.sink.auto = True
    for i in range(60):
        rig.write(f"f{i:02d}.log", f"f{i}-1")
    rig.start()
    rig.pump(rounds=40)
    for i in range(60):
        rig.write(f"f{i:02d}.log", f"f{i}-2")
    rig.pump(rounds=40)
    assert sorted(rig.delivered()) == sorted(
        [f"f{i}-1" for i in range(60)] + [f"f{i}-2" for i in range(60)]
    )
    assert rig.max_open <= 4


def test_partial_last_line_waits_and_the_checkpoint_stays_before_it(tmp_path: Path) -> None:
    """An unterminated line is not shipped; the checkpoint points at its first byte."""
    rig = Rig(tmp_path)
    rig.sink.auto = True
    rig.write("a.log", "done")
    with open(rig.logs / "a.log", "a") as f:
        f.write("half")
    rig.start()
    rig.pump()
    assert rig.delivered() == ["done"]
    assert rig.checkpoint() == {"a.log": 5}
    rig.write("a.log", "-complete")
    rig.pump()
    assert rig.delivered() == ["done", "half-complete"]


def test_a_restart_never_splits_a_multiline_event(tmp_path: Path) -> None:
    """A traceback cut by a restart is re-read whole: one event."""
    inputs = [
        {
            "paths": [str(tmp_path / "logs" / "*.log")],
            "service": "svc",
            "multiline": {"preset": "python", "flush_timeout_seconds": 60},
        }
    ]
    rig = Rig(tmp_path, inputs=inputs)
    rig.sink.auto = True
    rig.write("a.log", "INFO first", "ERROR boom", "Traceback (most recent call last):")
    rig.start()
    rig.pump()
    rig.stop()
    assert rig.delivered() == ["INFO first"]
    rig.write("a.log", '  File "x.py", line 1', "ValueError: bad", "INFO after")
    rig.start()
    rig.pump()
    assert rig.delivered() == [
        "INFO first",
        'ERROR boom\nTraceback (most recent call last):\n  File "x.py", line 1\nValueError: bad',
    ]


def test_corrupt_checkpoint_stops_with_an_explicit_choice(tmp_path: Path) -> None:
    """No silent re-read: the error names both choices; start-from-end honours the choice."""
    rig = Rig(tmp_path)
    rig.write("a.log", "old")
    checkpoint = Path(rig.config.checkpoint.path)
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_text('{"format": "kafka-logging-shipper-checkpoint", "vers')
    with pytest.raises(FatalError, match=r"start-from-end(.|\n)*start-from-beginning"):
        rig.start()
    rig.sink.auto = True
    rig.start(on_corrupt="start-from-end")
    rig.write("a.log", "new")
    rig.pump()
    assert rig.delivered() == ["new"]
    assert list(checkpoint.parent.glob("checkpoint.json.corrupt-*"))


def test_inode_reuse_is_not_mistaken_for_the_old_file(tmp_path: Path) -> None:
    """A checkpoint entry with the same inode but another head: the file starts at 0."""
    rig = Rig(tmp_path)
    rig.sink.auto = True
    rig.write("a.log", "old content line")
    rig.start()
    rig.pump()
    rig.stop()
    # Same inode, different bytes, longer than the old checkpointed offset.
    rig.write("a.log", "NEW", "NEW2", "NEW3", mode="r+")
    rig.start()
    rig.pump()
    assert rig.delivered() == ["old content line", "NEW", "NEW2", "NEW3", "ne"]


def test_a_record_over_message_max_bytes_ships_truncated_and_the_file_goes_on(
    tmp_path: Path,
) -> None:
    """produce() refuses a record over message.max.bytes at once: that line ships cut to
    fit (flag "truncated", bytes counted as record_too_large), the lines after it ship too,
    and the checkpoint reaches the end."""
    from confluent_kafka import KafkaError, KafkaException

    class SizeLimitedSink(FakeSink):
        max_record_bytes = 2000

        def raw_produce(self, topic: str, value: bytes, *args: Any) -> None:
            if len(value) > self.max_record_bytes:
                raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
            super().raw_produce(topic, value, *args)

        def produce(self, value: bytes, key: Any, headers: Any, cb: Any) -> None:
            assert len(value) <= self.max_record_bytes
            super().produce(value, key, headers, cb)

    rig = Rig(tmp_path)
    rig.sink = SizeLimitedSink()
    rig.write("a.log", "before", "y" * 5000, "after")
    rig.start()
    rig.sink.auto = True
    rig.pump()
    records = rig.sink.delivered
    assert [r["message"][:6] for r in records] == ["before", "yyyyyy", "after"]
    assert records[1]["log"]["flags"] == ["truncated"]
    assert rig.checkpoint() == {"a.log": 6 + 1 + 5001 + 6}
    assert rig.shipper is not None
    dropped = rig.shipper.metrics.bytes_dropped.labels("record_too_large")._value.get()
    assert dropped == 5000 - len(records[1]["message"])


def test_a_batch_cut_short_by_a_produce_error_is_failed_not_committed(tmp_path: Path) -> None:
    """An unexpected error in the middle of producing a batch: the lines not produced are
    not acknowledged, so the batch fails and is re-read, never committed past them."""
    from confluent_kafka import KafkaError, KafkaException

    class BreaksOnce(FakeSink):
        broken = False

        def raw_produce(self, topic: str, value: bytes, *args: Any) -> None:
            if b"two" in value and not self.broken:
                self.broken = True
                raise KafkaException(KafkaError(KafkaError._STATE))
            super().raw_produce(topic, value, *args)

    rig = Rig(tmp_path)
    rig.sink = BreaksOnce()
    rig.write("a.log", "one", "two", "three")
    shipper = rig.start()
    rig.clock.advance(0.2)
    with pytest.raises(KafkaException):
        shipper.tick()
    rig.sink.deliver()  # "one" was produced and is acknowledged
    assert rig.checkpoint() == {"a.log": 0}
    rig.sink.auto = True
    rig.pump(rounds=30)
    assert rig.checkpoint() == {"a.log": 14}
    assert rig.delivered() == ["one", "one", "two", "three"]
