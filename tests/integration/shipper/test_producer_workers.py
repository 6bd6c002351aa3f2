"""Producer worker processes (output.workers) against the real broker: same records as the
in-process path, a killed worker loses nothing, a killed shipper leaves no worker behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME, Message
from kafka_support import read_topic
from shipper_helpers import Running, consume, create_topic, make_config, write_config

from kafka_logging.errors import FatalError
from kafka_logging.wire.record import HEADER_ENCODING, HEADER_EVENT_ID, decode, header
from shipper.checkpoint import CheckpointStore
from shipper.producer_pool import MAX_DEATHS, WORKER_DIED, WorkerPool

CLI = str(Path(sys.executable).parent / "kafka-logging")


def lines_for(n: int, tag: str) -> list[bytes]:
    """A mix of ASCII, non-ASCII, CRLF and invalid UTF-8 lines."""
    out = []
    for i in range(n):
        if i % 97 == 0:
            out.append(f"{tag}-{i} caf\u00e9 \u2603".encode() + b"\n")
        elif i % 89 == 0:
            out.append(f"{tag}-{i} windows".encode() + b"\r\n")
        elif i % 83 == 0:
            out.append(f"{tag}-{i} bad ".encode() + b"\xff\xfe\n")
        else:
            out.append(f'{tag}-{i} GET /items/{i} "quoted" \\ status=200'.encode() + b"\n")
    return out


def read_back(bootstrap: str, topic: str, count: int, timeout: float = 90) -> list[Any]:
    """(record, headers, kafka timestamp) for every message, until `count` were read."""
    return read_topic(bootstrap, topic, count, timeout, convert=_with_headers)


def _with_headers(msg: Message) -> tuple[Any, Any, Any]:
    return decode(msg.value(), msg.headers()), msg.headers(), msg.timestamp()


def ship_file(
    tmp_path: Path,
    bootstrap: str,
    run_shipper: Callable[..., Running],
    workers: int,
    data: bytes,
) -> tuple[list[Any], int]:
    topic = f"workers-{workers}-{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic)
    log = tmp_path / f"w{workers}" / "logs" / "app.log"
    log.parent.mkdir(parents=True)
    log.write_bytes(data)
    config = make_config(
        tmp_path / f"w{workers}",
        bootstrap,
        topic,
        [{"paths": [str(log)], "service": "svc"}],
        output={"workers": workers},
        limits={"read_chunk_bytes": 8192},
    )
    running = run_shipper(config)
    count = data.count(b"\n")
    got = read_back(bootstrap, topic, count)
    deadline = time.monotonic() + 30
    while running.shipper.entries()[0].offset < len(data) and time.monotonic() < deadline:
        time.sleep(0.05)
    running.stop()
    [entry] = CheckpointStore(config.checkpoint.path).load() or []
    return got, entry.offset


@pytest.mark.timeout(180)
def test_workers_ship_the_same_records_as_the_shipper_process(
    tmp_path: Path, kafka_bootstrap: str, run_shipper: Callable[..., Running]
) -> None:
    """With 2 workers every line arrives once, as the same record (fields, event.id,
    headers, flags) the in-process path produces, stamped by Kafka now, and the checkpoint
    ends at the end of the file."""
    data = b"".join(lines_for(6000, "w"))
    in_process, end0 = ship_file(tmp_path, kafka_bootstrap, run_shipper, 0, data)
    workers, end2 = ship_file(tmp_path, kafka_bootstrap, run_shipper, 2, data)
    assert end0 == end2 == len(data)

    def comparable(items: list[Any]) -> dict[int, Any]:
        """By offset, without what differs between the two files (path, identity, time)."""
        out = {}
        for item in items:
            record = dict(item[0])
            record.pop("@timestamp")
            offset = record["log"]["offset"]
            assert record["event"]["id"].endswith(f"-{offset}")
            record["event"] = {k: v for k, v in record["event"].items() if k != "id"}
            record["log"] = {k: v for k, v in record["log"].items() if k != "file"}
            out[offset] = record
        return out

    assert len(workers) == len(in_process) == 6000
    assert comparable(workers) == comparable(in_process)
    assert len({r["event"]["id"] for r, _h, _t in workers}) == 6000
    for record, headers, (kind, stamp) in workers:
        assert header(headers, HEADER_EVENT_ID) == record["event"]["id"]
        assert header(headers, HEADER_ENCODING) == "json"
        assert kind == TIMESTAMP_CREATE_TIME
        assert abs(stamp / 1000 - time.time()) < 600
    flagged = [r for r, _h, _t in workers if r["log"].get("flags")]
    assert {tuple(r["log"]["flags"]) for r in flagged} == {("invalid_utf8",)}


def children(pid: int) -> list[int]:
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out += [int(c) for c in f.read().split()]
    return out


def workers_of(pid: int) -> list[int]:
    """The shipper's worker processes (not multiprocessing's resource tracker)."""
    out = []
    for child in children(pid):
        try:
            with open(f"/proc/{child}/cmdline", "rb") as f:
                if b"spawn_main" in f.read() and alive(child):
                    out.append(child)
        except FileNotFoundError:
            continue
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.timeout(180)
def test_a_killed_worker_fails_its_batches_and_nothing_is_lost(
    tmp_path: Path, kafka_bootstrap: str, topic: str
) -> None:
    """SIGKILL one worker mid-file: its batches are re-read (same ids), a new worker takes
    over, every line arrives and the checkpoint reaches the end; SIGKILL the shipper: its
    workers die with it."""
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    lines = lines_for(150_000, "k")
    log.write_bytes(b"".join(lines))
    config = make_config(
        tmp_path,
        kafka_bootstrap,
        topic,
        [{"paths": [str(log)], "service": "svc"}],
        output={"workers": 2},
        limits={"read_chunk_bytes": 16384, "max_in_flight_bytes": 1 << 20},
    )
    path = write_config(tmp_path / "shipper.yaml", config)
    stderr = tmp_path / "stderr"
    with open(stderr, "wb") as err:
        proc = subprocess.Popen([CLI, "ship", "--config", str(path)], stderr=err)
    try:
        consume(kafka_bootstrap, topic, lambda rs: len(rs) >= 1000)
        first = workers_of(proc.pid)
        assert len(first) == 2
        os.kill(first[0], signal.SIGKILL)
        deadline = time.monotonic() + 120
        size = log.stat().st_size
        while time.monotonic() < deadline:
            entries = CheckpointStore(config.checkpoint.path).load() or []
            if entries and entries[0].offset == size:
                break
            time.sleep(0.2)
        assert entries[0].offset == size
        workers = workers_of(proc.pid)
        assert len(workers) == 2
        assert first[0] not in workers
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 15
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in workers), "workers outlived the shipper"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert b"re-read" in stderr.read_bytes()  # the pool said what happened

    def every_offset(rs: list[dict[str, Any]]) -> bool:
        return len(rs) >= len(lines) and len({r["log"]["offset"] for r in rs}) >= len(lines)

    records = consume(kafka_bootstrap, topic, every_offset, timeout=120)
    ids = Counter(r["event"]["id"] for r in records)
    offsets = {r["log"]["offset"] for r in records}
    starts, pos = [], 0
    for line in lines:
        starts.append(pos)
        pos += len(line)
    assert offsets == set(starts)  # every line, at its offset
    print(f"killed worker: {len(records)} records, {sum(n - 1 for n in ids.values())} duplicates")


class _RecordingBatch:
    def __init__(self) -> None:
        self.errors: list[Any] = []

    def on_delivery(self, err: Any, _msg: Any) -> None:
        self.errors.append(err)


@pytest.mark.timeout(120)
def test_workers_that_keep_dying_stop_the_shipper_with_a_clear_error(
    tmp_path: Path, kafka_bootstrap: str, topic: str
) -> None:
    """A worker that dies is replaced and its batches fail (to be re-read); more than
    MAX_DEATHS deaths within the window stop the shipper with a FatalError that says so,
    and the batches in flight still fail rather than vanish."""
    inputs = [{"paths": [str(tmp_path / "*.log")], "service": "test"}]
    config = make_config(tmp_path, kafka_bootstrap, topic, inputs, output={"workers": 1})
    pool = WorkerPool(config, "test-host")
    batches: list[_RecordingBatch] = []

    def kill_the_worker_again_and_again() -> None:
        for death in range(MAX_DEATHS + 1):
            worker = pool.workers[0]
            batch = _RecordingBatch()
            batches.append(batch)
            worker.pending[death] = batch  # type: ignore[assignment]
            os.kill(worker.process.pid, signal.SIGKILL)
            worker.process.join(10)
            pool.check()
            assert pool.workers[0] is not worker, "a dead worker is replaced"

    try:
        with pytest.raises(FatalError, match=r"exited 6 times within 60 s"):
            kill_the_worker_again_and_again()
    finally:
        pool.close()
    assert len(batches) == MAX_DEATHS + 1
    for batch in batches:
        assert [e.name() for e in batch.errors] == [WORKER_DIED]
