"""The shipper against the real broker: every line accounted for by reading the topic back."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from shipper_helpers import Running, consume, make_config, messages

from kafka_logging.wire.record import line_event_id

pytestmark = pytest.mark.timeout(120)

Start = Callable[..., Running]


def write(path: Path, *lines: str, mode: str = "a") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode) as f:
        f.writelines(f"{line}\n" for line in lines)


def read_back(bootstrap: str, topic: str, count: int, idle: float = 1.5) -> list[str]:
    """Every message in the topic once `count` arrived (plus `idle` s to catch extras)."""
    return messages(consume(bootstrap, topic, lambda rs: len(rs) >= count, idle=idle))


def test_records_carry_the_ecs_fields_and_a_derived_event_id(
    tmp_path: Path, kafka_bootstrap: str, topic: str, run_shipper: Start
) -> None:
    """log.file.path, log.offset, host, service, dataset, labels; event.id from the offset."""
    path = tmp_path / "logs" / "app.log"
    write(path, "first", "second")
    inputs = [
        {"paths": [str(tmp_path / "logs" / "*.log")], "service": "billing", "labels": {"a": "b"}}
    ]
    running = run_shipper(make_config(tmp_path, kafka_bootstrap, topic, inputs))
    records = consume(kafka_bootstrap, topic, lambda rs: len(rs) >= 2, idle=1)
    running.stop()
    assert [r["message"] for r in records] == ["first", "second"]
    second = records[1]
    assert second["log"] == {"file": {"path": str(path)}, "offset": 6}
    assert second["host"] == {"hostname": "test-host"}
    assert second["service"] == {"name": "billing"}
    assert second["labels"] == {"a": "b"}
    assert second["event"]["dataset"] == "billing.log"
    [tracked] = running.shipper.entries()
    assert second["event"]["id"] == line_event_id("test-host", tracked.identity, 6)


def test_discovery_globs_excludes_and_files_appearing_later(
    tmp_path: Path, kafka_bootstrap: str, topic: str, run_shipper: Start
) -> None:
    """`**` reaches nested directories, excludes are honoured, new files are picked up."""
    logs = tmp_path / "logs"
    write(logs / "top.log", "top")
    write(logs / "a" / "b" / "deep.log", "deep")
    write(logs / "a" / "skip.log", "excluded")
    write(logs / "other.txt", "not matched")
    inputs = [{"paths": [str(logs / "**" / "*.log")], "exclude": ["skip.*"], "service": "svc"}]
    running = run_shipper(make_config(tmp_path, kafka_bootstrap, topic, inputs))
    write(logs / "c" / "later.log", "later")
    got = read_back(kafka_bootstrap, topic, 3)
    running.stop()
    assert sorted(got) == ["deep", "later", "top"]


def test_a_thousand_files_with_bounded_descriptors(
    tmp_path: Path, kafka_bootstrap: str, topic: str, run_shipper: Start
) -> None:
    """1,000 files, at most 64 open at once; idle files are closed and reopened safely."""
    logs = tmp_path / "logs"
    logs.mkdir()
    for i in range(1000):
        write(logs / f"f{i:04d}.log", f"f{i}-1")
    inputs = [{"paths": [str(logs / "*.log")], "service": "svc"}]
    config = make_config(
        tmp_path,
        kafka_bootstrap,
        topic,
        inputs,
        limits={"max_open_files": 64, "idle_close_seconds": 0.5},
    )
    running = run_shipper(config)
    first = read_back(kafka_bootstrap, topic, 1000, idle=0)
    assert len(first) == 1000
    for i in range(1000):
        write(logs / f"f{i:04d}.log", f"f{i}-2")
    got = read_back(kafka_bootstrap, topic, 2000)
    assert running.shipper.open_files <= 64
    running.stop()
    expected = [f"f{i}-{n}" for i in range(1000) for n in (1, 2)]
    assert sorted(got) == sorted(expected)
    fds = len(os.listdir("/proc/self/fd"))
    assert fds < 500  # nothing leaked


def test_rename_and_create_rotation_drains_the_old_file(
    tmp_path: Path, kafka_bootstrap: str, topic: str, run_shipper: Start
) -> None:
    """Rotated while the shipper is still reading it: the rest of the old file, and lines
    still written to it after the rename, arrive; then the new file's."""
    logs = tmp_path / "logs"
    old = [f"a{i}" for i in range(20000)]
    write(logs / "app.log", *old)
    inputs = [{"paths": [str(logs / "app.log")], "service": "svc"}]
    running = run_shipper(make_config(tmp_path, kafka_bootstrap, topic, inputs))
    consume(kafka_bootstrap, topic, lambda rs: len(rs) >= 1)  # it has started reading
    os.rename(logs / "app.log", logs / "app.log.1")
    late = [f"a-late{i}" for i in range(50)]
    write(logs / "app.log.1", *late)
    new = [f"b{i}" for i in range(100)]
    write(logs / "app.log", *new)
    got = read_back(kafka_bootstrap, topic, 20150)
    running.stop()
    assert sorted(got) == sorted(old + late + new)


def test_copytruncate_never_loses_lines_written_before_the_copy(
    tmp_path: Path, kafka_bootstrap: str, topic: str, run_shipper: Start
) -> None:
    """Copytruncate right after a burst of writes (the shipper still reading): every line
    written before each copy arrives, and none twice."""
    logs = tmp_path / "logs"
    log = logs / "app.log"
    write(log, "start")
    inputs = [{"paths": [str(log)], "service": "svc"}]
    running = run_shipper(make_config(tmp_path, kafka_bootstrap, topic, inputs))
    expected = ["start"]
    read_back(kafka_bootstrap, topic, 1, idle=0)  # a file rotated away unseen is unknowable
    for rotation in range(3):
        batch = [f"r{rotation}-{i}" for i in range(3000)]
        write(log, *batch)
        copy = logs / f"app.log.{rotation + 1}"
        copy.write_bytes(log.read_bytes())  # logrotate copytruncate: copy, then truncate
        os.truncate(log, 0)
        write(log, f"after-{rotation}")
        expected += [*batch, f"after-{rotation}"]
        # Rotations are far apart compared to the scan interval: let this one be noticed.
        got = read_back(kafka_bootstrap, topic, len(expected), idle=0)
        missing = sorted(set(expected) - set(got))
        entries = [(e.path, e.offset) for e in running.shipper.entries()]
        assert not missing, f"rotation {rotation}: {len(missing)} missing {missing[:3]} {entries}"
    got = read_back(kafka_bootstrap, topic, len(expected))
    running.stop()
    assert sorted(got) == sorted(expected)


def test_truncation_in_place_and_deletion(
    tmp_path: Path, kafka_bootstrap: str, topic: str, run_shipper: Start
) -> None:
    """Truncated: the new content ships from byte 0. Deleted: read to its end, then closed."""
    logs = tmp_path / "logs"
    write(logs / "t.log", "t-old")
    write(logs / "d.log", "d1")
    inputs = [{"paths": [str(logs / "*.log")], "service": "svc"}]
    running = run_shipper(make_config(tmp_path, kafka_bootstrap, topic, inputs))
    assert sorted(read_back(kafka_bootstrap, topic, 2, idle=0)) == ["d1", "t-old"]
    write(logs / "t.log", "t-new", mode="w")
    write(logs / "d.log", *[f"d-more{i}" for i in range(500)])
    os.unlink(logs / "d.log")
    got = read_back(kafka_bootstrap, topic, 503)
    running.stop()
    assert sorted(got) == sorted(["d1", "t-old", "t-new"] + [f"d-more{i}" for i in range(500)])
    assert [Path(e.path).name for e in running.shipper.entries()] == ["t.log"]


def test_rotation_while_stopped_is_drained_first_and_restart_has_no_duplicates(
    tmp_path: Path, kafka_bootstrap: str, topic: str, run_shipper: Start
) -> None:
    """Stopped, written to, renamed away, replaced: the old tail ships before the new file."""
    logs = tmp_path / "logs"
    log = logs / "app.log"
    write(log, *[f"a{i}" for i in range(10)])
    inputs = [{"paths": [str(log)], "service": "svc"}]
    config = make_config(tmp_path, kafka_bootstrap, topic, inputs)
    running = run_shipper(config)
    read_back(kafka_bootstrap, topic, 10, idle=0)
    running.stop()
    write(log, "tail-while-stopped")
    os.rename(log, logs / "app.log.1")
    write(log, "new-file")
    running = run_shipper(config)
    got = read_back(kafka_bootstrap, topic, 12)
    running.stop()
    assert got == [f"a{i}" for i in range(10)] + ["tail-while-stopped", "new-file"]


def test_json_regex_multiline_long_lines_and_invalid_utf8(
    tmp_path: Path, kafka_bootstrap: str, topic: str, run_shipper: Start
) -> None:
    """Parsers, multiline presets, split lines and bad bytes all reach Kafka, flagged."""
    logs = tmp_path / "logs"
    write(logs / "j.log", '{"message": "hi", "log.level": "warn"}', "{broken")
    write(logs / "r.log", "ERROR disk full")
    write(logs / "p.log", "ERROR x", "Traceback (most recent call last):", '  File "a"', "E: y")
    write(logs / "p.log", "INFO next")
    (logs / "b.log").write_bytes(b"bad \xff byte\n" + b"L" * 3000 + b"\n")
    inputs = [
        {"paths": [str(logs / "j.log")], "service": "j", "parser": {"type": "json"}},
        {
            "paths": [str(logs / "r.log")],
            "service": "r",
            "parser": {"type": "regex", "pattern": r"^(?P<log__level>[A-Z]+) (?P<message>.*)"},
        },
        {"paths": [str(logs / "p.log")], "service": "p", "multiline": {"preset": "python"}},
        {"paths": [str(logs / "b.log")], "service": "b"},
    ]
    config = make_config(tmp_path, kafka_bootstrap, topic, inputs, limits={"max_line_bytes": 1024})
    running = run_shipper(config)
    records = consume(kafka_bootstrap, topic, lambda rs: len(rs) >= 9, idle=1.5)
    running.stop()
    by_service = Counter(r["service"]["name"] for r in records)
    assert by_service == {"j": 2, "r": 1, "p": 2, "b": 4}
    j = [r for r in records if r["service"]["name"] == "j"]
    assert j[0]["message"] == "hi"
    assert j[0]["log"]["level"] == "warn"
    assert j[1]["log"]["flags"] == ["parse_error"]
    [r] = [r for r in records if r["service"]["name"] == "r"]
    assert (r["message"], r["log"]["level"]) == ("disk full", "ERROR")
    p = [r["message"] for r in records if r["service"]["name"] == "p"]
    assert p == ['ERROR x\nTraceback (most recent call last):\n  File "a"\nE: y', "INFO next"]
    b = [r for r in records if r["service"]["name"] == "b"]
    assert b[0]["message"] == "bad \ufffd byte"
    assert b[0]["log"]["flags"] == ["invalid_utf8"]
    assert "".join(x["message"] for x in b[1:]) == "L" * 3000
    assert all(x["log"]["flags"] == ["split"] for x in b[1:])


def test_partial_last_line_ships_only_when_complete(
    tmp_path: Path, kafka_bootstrap: str, topic: str, run_shipper: Start
) -> None:
    """An unterminated line waits for its newline; the checkpoint stays at its first byte."""
    log = tmp_path / "logs" / "app.log"
    write(log, "whole")
    with open(log, "a") as f:
        f.write("half")
    inputs = [{"paths": [str(log)], "service": "svc"}]
    running = run_shipper(make_config(tmp_path, kafka_bootstrap, topic, inputs))
    assert read_back(kafka_bootstrap, topic, 1, idle=2) == ["whole"]
    assert [e.offset for e in running.shipper.entries()] == [6]
    write(log, "-done")
    got = read_back(kafka_bootstrap, topic, 2)
    running.stop()
    assert got == ["whole", "half-done"]


def test_partial_last_line_ships_after_the_idle_timeout_flagged(
    tmp_path: Path, kafka_bootstrap: str, topic: str, run_shipper: Start
) -> None:
    """With partial_line_timeout_seconds, an idle unterminated line ships flagged "partial"."""
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_text("no newline yet")
    inputs = [{"paths": [str(log)], "service": "svc"}]
    config = make_config(
        tmp_path, kafka_bootstrap, topic, inputs, limits={"partial_line_timeout_seconds": 1}
    )
    running = run_shipper(config)
    records = consume(kafka_bootstrap, topic, lambda rs: len(rs) >= 1, idle=1)
    running.stop()
    assert [(r["message"], r["log"]["flags"]) for r in records] == [("no newline yet", ["partial"])]
    assert [e.offset for e in running.shipper.entries()] == [14]


def test_a_file_deleted_and_recreated_while_stopped_is_shipped_whole(
    tmp_path: Path, kafka_bootstrap: str, topic: str, run_shipper: Start
) -> None:
    """A new file at the old path (often on the old, reused inode) is shipped from byte 0."""
    log = tmp_path / "logs" / "app.log"
    write(log, *[f"old-{i}" for i in range(100)])
    inputs = [{"paths": [str(log)], "service": "svc"}]
    config = make_config(tmp_path, kafka_bootstrap, topic, inputs)
    running = run_shipper(config)
    read_back(kafka_bootstrap, topic, 100, idle=0)
    running.stop()
    old_inode = log.stat().st_ino
    log.unlink()
    write(log, *[f"new-{i}" for i in range(150)])  # longer than the old checkpoint offset
    running = run_shipper(config)
    got = read_back(kafka_bootstrap, topic, 250)
    running.stop()
    print(f"inode reused: {log.stat().st_ino == old_inode}")
    assert sorted(got) == sorted(
        [f"old-{i}" for i in range(100)] + [f"new-{i}" for i in range(150)]
    )


@pytest.mark.parametrize("workers", [0, 2], ids=["in-process", "2-workers"])
def test_a_line_whose_record_exceeds_message_max_bytes_ships_truncated(
    tmp_path: Path, kafka_bootstrap: str, topic: str, run_shipper: Start, workers: int
) -> None:
    """A line under max_line_bytes (1 MiB by default) whose record is over librdkafka's
    message.max.bytes (1,000,000) ships cut to fit and flagged; the lines after it ship and
    the checkpoint reaches the end (before session 2 this line stopped the shipper)."""
    path = tmp_path / "logs" / "app.log"
    big = "q" * 1_040_000
    write(path, "before", big, "after")
    config = make_config(
        tmp_path,
        kafka_bootstrap,
        topic,
        [{"paths": [str(path)], "service": "svc"}],
        output={"workers": workers},
    )
    running = run_shipper(config)
    records = consume(kafka_bootstrap, topic, lambda rs: len(rs) >= 3, idle=1)
    size = path.stat().st_size
    for _ in range(100):
        if running.shipper.entries()[0].offset == size:
            break
        time.sleep(0.1)
    running.stop()
    records.sort(key=lambda r: r["log"]["offset"])  # with 2 workers batches interleave
    assert [r["message"][:6] for r in records] == ["before", "qqqqqq", "after"]
    assert records[1]["log"]["flags"] == ["truncated"]
    assert 800_000 < len(records[1]["message"]) < len(big)
    assert running.shipper.entries()[0].offset == size
