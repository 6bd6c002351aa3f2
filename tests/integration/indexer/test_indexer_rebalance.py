"""Rebalances with two indexer processes that restart (issue 16, item 2): what is resolved is
committed before partitions are given up, no ILLEGAL_GENERATION warning is logged, every
SIGTERM exits 0 after a successful final commit, and each poison record is dead-lettered under
one kl.dlq.id that `kafka-logging tail` shows once."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from indexer_support import Setup, consume_all, ecs_record, produce, produce_raw
from kafka_support import read_topic

from indexer.dlq import HEADER_ID
from kafka_logging.search.kafka_tail import KafkaTail
from kafka_logging.wire.record import Encoding, encode_json, header, headers_for

pytestmark = pytest.mark.timeout(240)

RECORDS = 6000
POISON_EVERY = 200  # a mapping conflict: dead-lettered at the index stage
RESTARTS = 3


def _records() -> tuple[list[dict[str, Any]], set[str]]:
    records, poison = [], set()
    for i in range(RECORDS):
        if i % POISON_EVERY == POISON_EVERY // 2:
            record = ecs_record(i, log={"level": {"nested": "a keyword field"}})
            poison.add(record["event"]["id"])
        else:
            record = ecs_record(i)
        records.append(record)
    return records, poison


def _writer(setup: Setup, records: list[dict[str, Any]], seconds: float) -> threading.Thread:
    def write() -> None:
        chunks = 30
        step = len(records) // chunks
        pause = threading.Event()
        for i in range(chunks):
            produce(setup.bootstrap, setup.topic, records[i * step : (i + 1) * step], 3)
            pause.wait(seconds / chunks)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def _wait_for(path: Path, text: str, timeout: float = 60) -> None:
    """Until `text` appears in the log at `path` (a worker is up and has partitions)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        pause.wait(0.2)
    raise AssertionError(f"{path.name} never logged {text!r}")


def test_restarting_workers_commit_cleanly_and_dead_letter_each_poison_under_one_id(
    setup: Setup, spawn_indexer: Callable[[Path], subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """Two workers, three SIGTERM restarts while records (some poison) keep arriving: exactly
    N-poison documents, every exit 0, no ILLEGAL_GENERATION / REBALANCE_IN_PROGRESS warning or
    failed commit in any log, each poison's dead-letter copies share one kl.dlq.id, and the
    DLQ as `tail` reads it shows each poison once."""
    records, poison = _records()
    config = setup.write_config(
        tmp_path / "indexer.yaml",
        consumer={"commit_interval": 0.2, "revoke_timeout": 10},
        batch={"max_docs": 200, "max_wait": 0.05},
    )
    writer = _writer(setup, records, seconds=15)
    workers = [spawn_indexer(config), spawn_indexer(config)]
    logs = [tmp_path / "indexer-0.log", tmp_path / "indexer-1.log"]
    pause = threading.Event()
    codes = []
    for n in range(RESTARTS):
        for log in logs:
            _wait_for(log, "assigned")
        pause.wait(2)  # indexing, with offsets resolved and commits in flight
        victim = workers[n % 2]
        victim.send_signal(signal.SIGTERM)
        codes.append(victim.wait(60))
        workers[n % 2] = spawn_indexer(config)
        logs[n % 2] = tmp_path / f"indexer-{n + 2}.log"
    writer.join()
    good = RECORDS - len(poison)
    assert setup.wait_count(good, timeout=120) == good
    consume_all(setup.bootstrap, setup.dlq, len(poison), timeout=60)
    for log in logs:
        _wait_for(log, "assigned")
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
        codes.append(proc.wait(60))
    dead = read_topic(setup.bootstrap, setup.dlq, len(poison), timeout=60, quiet=2)

    assert codes == [0] * len(codes)
    logs = "\n".join(p.read_text() for p in sorted(tmp_path.glob("indexer-*.log")))
    noisy = re.findall(
        r".*(?:WARNING|ERROR).*(?:ILLEGAL_GENERATION|REBALANCE_IN_PROGRESS|commit).*", logs
    )
    assert noisy == []
    ids = setup.ids()
    assert len(ids) == len(set(ids)) == good

    copies = Counter(header(m.headers(), HEADER_ID) for m in dead)
    by_event = {}
    for message in dead:
        event_id = re.search(rb'"id":"([^"]+)"', message.value())
        assert event_id is not None
        by_event.setdefault(event_id.group(1).decode(), set()).add(
            header(message.headers(), HEADER_ID)
        )
    assert set(by_event) == poison
    assert all(len(dlq_ids) == 1 for dlq_ids in by_event.values())  # repeats share the id
    assert len(copies) == len(poison)

    # What `kafka-logging tail` shows of the dead-letter topic: each poison once. A last
    # dead letter (one partition: read after all the others) says when it has read them all.
    end = ecs_record(-1)
    produce_raw(
        setup.bootstrap,
        setup.dlq,
        [
            (
                encode_json(end),
                [*headers_for(Encoding.JSON, end["event"]["id"]), (HEADER_ID, b"end")],
            )
        ],
    )
    tail = KafkaTail({"bootstrap.servers": setup.bootstrap}, setup.dlq, from_beginning=True)
    tail.start()
    stop = threading.Event()
    shown: list[str] = []
    try:
        for batch in tail.batches(stop):
            shown.extend(str(r["event"]["id"]) for r in batch)
            if end["event"]["id"] in shown:
                stop.set()
    finally:
        tail.close()
    assert sorted(shown) == sorted([*poison, end["event"]["id"]])
    assert tail.repeated_dead_letters == len(dead) - len(poison)
