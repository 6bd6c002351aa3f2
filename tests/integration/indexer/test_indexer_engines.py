"""The whole path on whichever engine this session runs (`--search-engine`; CI runs these on
Elasticsearch 9.2.0, 8.19.21 and OpenSearch 2.19.1): KafkaHandler -> two indexer processes,
one SIGKILLed -> exactly N documents; poison -> dead-letter topic; a replay with a new group
adds nothing; `search` finds them with filters and --follow."""

from __future__ import annotations

import json
import logging
import queue
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from indexer_support import Running, Setup, consume_all, ecs_record, produce, produce_raw

from indexer.config import IndexerConfig
from kafka_logging.handler import KafkaHandler
from kafka_logging.wire.record import Encoding, encode_json, headers_for

pytestmark = [pytest.mark.timeout(400), pytest.mark.engines]

KAFKA_LOGGING = str(Path(sys.executable).parent / "kafka-logging")
N = 6000


def _log_through_the_handler(setup: Setup, service: str, count: int) -> None:
    handler = KafkaHandler(setup.bootstrap, setup.topic, service_name=service)
    logger = logging.getLogger(f"engines.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for i in range(count):
            logger.warning("engine record %d", i, extra={"labels": {"seq": str(i)}})
        assert handler.flush(60)
    finally:
        handler.close()


def test_handler_to_two_indexers_with_a_sigkill_gives_exactly_n_on_this_engine(
    setup: Setup,
    run_indexer: Callable[[IndexerConfig], Running],
    spawn_indexer: Callable[[Path], subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    """N records from KafkaHandler plus poison, two indexer processes in one group, one
    SIGKILLed mid-run: exactly N documents (each once), the poison on the dead-letter topic,
    and a replay by a new group answers 409 for every record and adds nothing."""
    service = f"svc-{uuid.uuid4().hex[:6]}"
    config = setup.write_config(
        tmp_path / "indexer.yaml",
        kafka={"librdkafka": {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}},
        batch={"max_docs": 200, "max_wait": 0.05},
    )
    victim = spawn_indexer(config)
    survivor = spawn_indexer(config)
    writer = threading.Thread(target=_log_through_the_handler, args=(setup, service, N))
    writer.start()
    bad_date = ecs_record(0)
    bad_date["@timestamp"] = "not-a-date"
    produce_raw(
        setup.bootstrap,
        setup.topic,
        [
            (b"\x00 not json", []),
            (encode_json(bad_date), headers_for(Encoding.JSON, bad_date["event"]["id"])),
        ],
    )
    # Kill one worker once some, not all, records are in.
    assert setup.wait_count(N // 10, timeout=120) >= N // 10
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    writer.join(120)
    assert setup.wait_count(N, timeout=180) == N
    dead = consume_all(setup.bootstrap, setup.dlq, 2)
    survivor.send_signal(signal.SIGTERM)
    assert survivor.wait(60) == 0
    ids = setup.ids()
    assert len(ids) == len(set(ids)) == N
    assert {m.value() for m in dead} == {b"\x00 not json", encode_json(bad_date)}

    replay = run_indexer(setup.config(consumer={"group_id": setup.group + "-replay"}))
    done = threading.Event()
    for _ in range(240):
        if int(replay.indexer.metrics.duplicates._value.get()) >= N:
            break
        done.wait(0.5)
    replay.stop()
    assert int(replay.indexer.metrics.duplicates._value.get()) == N
    assert int(replay.indexer.metrics.indexed._value.get()) == 0
    assert setup.count() == N

    found = subprocess.run(
        [KAFKA_LOGGING, "search", "--elasticsearch", setup.es_url, "--index", f"{setup.index}-*",
         "--service", service, "--level", "warning", "--since", "1h", "-n", str(N + 10),
         "--format", "ndjson", "engine record"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    seqs = {json.loads(line)["labels"]["seq"] for line in found.stdout.splitlines()}
    assert seqs == {str(i) for i in range(N)}


def _lines(stream: Any) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_follow_prints_new_records_on_this_engine(
    setup: Setup, run_indexer: Callable[[IndexerConfig], Running]
) -> None:
    """`search --follow` with a filter prints the backlog, then records indexed later, once."""
    produce(setup.bootstrap, setup.topic, [ecs_record(i) for i in range(3)])
    running = run_indexer(setup.config())
    assert setup.wait_count(3) == 3
    follow = subprocess.Popen(
        [KAFKA_LOGGING, "search", "--follow", "--interval", "0.3", "--format", "ndjson",
         "--since", "1h", "--elasticsearch", setup.es_url, "--index", f"{setup.index}-*",
         "--service", "checkout", "-n", "10"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    out = _lines(follow.stdout)
    try:
        backlog = sorted(json.loads(out.get(timeout=60))["labels"]["seq"] for _ in range(3))
        assert backlog == ["0", "1", "2"]
        produce(
            setup.bootstrap,
            setup.topic,
            [ecs_record(3), ecs_record(4, service={"name": "other"}), ecs_record(5)],
        )
        got = sorted(json.loads(out.get(timeout=60))["labels"]["seq"] for _ in range(2))
        assert got == ["3", "5"]
        running.stop()
        follow.send_signal(signal.SIGINT)
        assert follow.wait(30) == 130
        assert out.empty()  # "other" never printed, nothing twice
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait(30)
