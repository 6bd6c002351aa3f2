"""Elasticsearch stopped mid-run (a private node): no loss, no crash, stalled, then resumes."""

from __future__ import annotations

import contextlib
import json
import socket
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


def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        pause.wait(0.2)


class Gate:
    """A TCP forwarder to 127.0.0.1:`target` for one client; shut() drops its connections and
    refuses new ones (the engine is away for that client only), reopen() lets them through."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.open = True
        self.live: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.live += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def shut(self) -> None:
        self.open = False
        for sock in self.live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.live.clear()

    def reopen(self) -> None:
        self.open = True


def test_a_partition_paused_during_an_outage_is_fetched_when_it_comes_back(
    setup: Setup, run_indexer: Callable[[IndexerConfig], Running]
) -> None:
    """librdkafka keeps a partition's pause across revoke and re-assignment (chaos seed 7 on
    46b066e: an indexer stalled for good). A's engine goes away (for A only) and A pauses; B
    joins and takes some of A's partitions; A's engine comes back and A resumes the ones it
    still owns; B leaves and A gets the others back: the records written after that, on
    every partition, are all indexed, once."""
    gate = Gate(int(setup.es_url.rsplit(":", 1)[1]))
    a = run_indexer(
        setup.config(
            elasticsearch={"hosts": [f"http://127.0.0.1:{gate.port}"], "request_timeout": 2},
            consumer={"revoke_timeout": 2},
        )
    )
    produce(setup.bootstrap, setup.topic, [ecs_record(i) for i in range(300)], partitions=3)
    assert setup.wait_count(300) == 300

    gate.shut()
    produce(setup.bootstrap, setup.topic, [ecs_record(i) for i in range(300, 600)], 3)
    _until(lambda: a.indexer._paused, 60, "A paused while its engine is away")
    b = run_indexer(setup.config(consumer={"revoke_timeout": 2}))
    _until(lambda: len(a.indexer._gen) < 3, 60, "B took partitions from A")
    gate.reopen()
    assert setup.wait_count(600, timeout=120) == 600
    _until(lambda: not a.indexer._paused, 60, "A resumed")

    b.stop()
    _until(lambda: len(a.indexer._gen) == 3, 60, "A got every partition back")
    produce(setup.bootstrap, setup.topic, [ecs_record(i) for i in range(600, 900)], 3)
    assert setup.wait_count(900, timeout=60) == 900
    a.stop()
    ids = setup.ids()
    assert len(ids) == len(set(ids)) == 900
