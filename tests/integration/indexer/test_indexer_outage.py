"""Elasticsearch stopped mid-run (a private node): no loss, no crash, stalled, then resumes."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from indexer_support import Running, Setup, ecs_record, produce

from indexer.config import IndexerConfig

pytestmark = pytest.mark.timeout(300)


def _free_port() -> int:
    """A port below the ephemeral range: a client connection cannot take it before the bind."""
    from kafka_logging.stack.procs import free_port_block

    return free_port_block(1)


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _health_once(port: int, code: int, timeout: float = 30) -> tuple[int, bytes]:
    """/health once it answers `code` (its snapshot lags the last bulk by a housekeeping
    round), or its last answer at the timeout."""
    deadline = time.monotonic() + timeout
    answer = _get(port, "/health")
    while answer[0] != code and time.monotonic() < deadline:
        threading.Event().wait(0.2)
        answer = _get(port, "/health")
    return answer


def test_elasticsearch_down_for_20s_then_frozen_loses_nothing(
    setup: Setup, run_indexer: Callable[[IndexerConfig], Running], make_service: Any
) -> None:
    """With the node stopped for >= 20 s while producers keep writing, the indexer stays up,
    pauses, reports "stalled" on /health, and once the node is back every record is
    indexed exactly once; then the same with the node frozen (SIGSTOP) instead of stopped."""
    node = make_service("elasticsearch")
    setup.es_url = node.address
    port = _free_port()
    running = run_indexer(
        setup.config(
            metrics={"enabled": True, "port": port},
            elasticsearch={"hosts": [node.address], "request_timeout": 3},
        )
    )
    produce(setup.bootstrap, setup.topic, [ecs_record(i) for i in range(1000)], partitions=3)
    assert setup.wait_count(1000) == 1000
    code, body = _health_once(port, 200)
    assert code == 200, body

    node.stop()
    writer = threading.Thread(
        target=produce,
        args=(setup.bootstrap, setup.topic, [ecs_record(i) for i in range(1000, 3000)], 3),
    )
    writer.start()
    statuses: set[str] = set()
    pause = threading.Event()
    for _ in range(44):  # >= 22 s down, watching health
        statuses.add(running.indexer.health()["status"])
        pause.wait(0.5)
    writer.join()
    code, body = _get(port, "/health")
    assert "stalled" in statuses
    assert code == 503
    assert json.loads(body)["status"] == "stalled"
    assert running.thread.is_alive()
    assert running.indexer.metrics.paused._value.get() == 1

    node.start()
    assert setup.wait_count(3000, timeout=120) == 3000

    # Slow rather than down: the node frozen (SIGSTOP) answers nothing; requests time out.
    node.freeze()
    produce(setup.bootstrap, setup.topic, [ecs_record(i) for i in range(3000, 3500)], 3)
    pause.wait(8)
    assert running.thread.is_alive()
    node.thaw()
    assert setup.wait_count(3500, timeout=120) == 3500
    running.stop()
    ids = setup.ids()
    assert len(ids) == len(set(ids)) == 3500
    assert running.indexer.metrics.retries._value.get() > 0


def test_metrics_endpoint_exports_the_indexer_metrics(
    setup: Setup, run_indexer: Callable[[IndexerConfig], Running]
) -> None:
    """/metrics lists docs, lag per partition, bulk latency, retries, dedupes, dead letters
    and the end-to-end latency histogram; /health answers ok."""
    port = _free_port()
    produce(setup.bootstrap, setup.topic, [ecs_record(i) for i in range(200)], partitions=3)
    running = run_indexer(setup.config(metrics={"enabled": True, "port": port}))
    assert setup.wait_count(200) == 200
    threading.Event().wait(0.5)  # one housekeeping round after the last bulk
    code, body = _get(port, "/metrics")
    health_code, health = _get(port, "/health")
    running.stop()
    text = body.decode()
    assert code == 200
    for name in (
        "kafka_logging_indexer_docs_indexed_total 200.0",
        f'kafka_logging_indexer_consumer_lag{{partition="0",topic="{setup.topic}"}}',
        "kafka_logging_indexer_bulk_latency_seconds_bucket",
        "kafka_logging_indexer_retries_total",
        "kafka_logging_indexer_duplicates_total",
        "kafka_logging_indexer_end_to_end_latency_seconds_count 200.0",
    ):
        assert name in text, name
    assert (health_code, json.loads(health)["status"]) == (200, "ok")
