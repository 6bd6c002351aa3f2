"""Helpers and fixtures for the indexer's integration tests: topics, ECS records, an indexer to run.

Records are produced with kafka_logging.wire.record (encode_json + headers_for), as the handler
and the shipper write them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from kafka_support import create_topic, read_topic

from indexer.config import IndexerConfig
from indexer.consumer import Indexer
from kafka_logging import config as shared
from kafka_logging.engines.client import EngineApiError, EngineClient, EngineUnreachable
from kafka_logging.wire.record import Encoding, encode_json, headers_for, random_event_id

VENV_BIN = Path(sys.executable).parent


def ecs_record(i: int, when: datetime | None = None, **extra: Any) -> dict[str, Any]:
    """A small ECS record, as the handler emits it."""
    when = when or datetime.now(UTC)
    record: dict[str, Any] = {
        "@timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "message": f"request {i} served",
        "log": {"level": "info", "logger": "app.web"},
        "ecs": {"version": "8.17.0"},
        "event": {"id": random_event_id()},
        "service": {"name": "checkout"},
        "labels": {"seq": str(i)},
    }
    record.update(extra)
    return record


def produce(bootstrap: str, topic: str, records: list[dict[str, Any]], partitions: int = 1) -> None:
    """Produce `records` as JSON messages (round-robin over partitions) and wait for acks."""
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True}
    )
    failures: list[Any] = []
    for i, record in enumerate(records):
        value = encode_json(record)
        headers = headers_for(Encoding.JSON, str(record.get("event", {}).get("id", "")))
        while True:
            try:
                producer.produce(
                    topic,
                    value,
                    partition=i % partitions,
                    headers=headers,
                    on_delivery=lambda err, _m: failures.append(err) if err else None,
                )
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(60) == 0
    assert failures == []


def produce_raw(bootstrap: str, topic: str, values: list[tuple[bytes | None, list[Any]]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for value, headers in values:
        producer.produce(topic, value, partition=0, headers=headers)
    assert producer.flush(30) == 0


def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 30) -> list[Any]:
    """Every message of `topic` (waits until `expected` arrived or the timeout)."""
    return read_topic(bootstrap, topic, expected, timeout)


@dataclass
class Setup:
    """One test's names: source topic, dead-letter topic, index prefix, group."""

    bootstrap: str
    es_url: str
    topic: str
    dlq: str
    index: str
    group: str = field(default_factory=lambda: f"indexer-{uuid.uuid4().hex[:8]}")

    def config(self, **sections: Any) -> IndexerConfig:
        """An IndexerConfig for this setup; `sections` override whole keys of each section."""
        data: dict[str, Any] = {
            "kafka": {"bootstrap_servers": self.bootstrap},
            "elasticsearch": {"hosts": [self.es_url], "request_timeout": 10},
            "consumer": {
                "topics": [self.topic],
                "group_id": self.group,
                "commit_interval": 0.2,
                "revoke_timeout": 5,
            },
            "batch": {"max_docs": 500, "max_wait": 0.05},
            "retry": {"initial_backoff": 0.05, "max_backoff": 1.0},
            "index": {
                "pattern": f"{self.index}-%Y.%m.%d",
                "template_name": f"{self.index}-template",
                "replicas": 0,
                "refresh_interval": "1s",
            },
            "dlq": {"topic": self.dlq},
            "metrics": {"enabled": False},
            "shutdown_timeout": 10,
        }
        for name, values in sections.items():
            if isinstance(values, dict):
                data.setdefault(name, {}).update(values)
            else:
                data[name] = values
        return shared.parse(data, IndexerConfig, environ={})

    def write_config(self, path: Path, **sections: Any) -> Path:
        path.write_text(yaml.safe_dump(self.config(**sections).model_dump(mode="json")))
        return path

    def es(self) -> EngineClient:
        # Retries 429/502/503/504 (a fresh index answers 503 until its shard is started).
        return EngineClient([self.es_url], request_timeout=30, max_retries=5)

    def count(self) -> int:
        with self.es() as es:
            es.refresh(f"{self.index}-*")
            return es.count(f"{self.index}-*")

    def ids(self) -> list[str]:
        """Every document `_id` in this setup's indices (duplicates would show twice)."""
        with self.es() as es:
            es.refresh(f"{self.index}-*")
            return [hit["_id"] for hit in es.scan(f"{self.index}-*")]

    def wait_count(self, expected: int, timeout: float = 60) -> int:
        """The document count once it reached `expected` (or at the timeout)."""
        deadline = time.monotonic() + timeout
        done = threading.Event()
        count = self._count_or_zero()
        while count < expected and time.monotonic() < deadline:
            done.wait(0.5)
            count = self._count_or_zero()
        return count

    def _count_or_zero(self) -> int:
        """count(), or 0 while a just-created index has no active shard yet (a 503) or the
        node is (re)starting: waiting rides that out."""
        try:
            return self.count()
        except EngineUnreachable:
            return 0
        except EngineApiError as exc:
            if exc.status != 503:
                raise
            return 0


@pytest.fixture
def setup(kafka_bootstrap: str, es_url: str, index: str) -> Iterator[Setup]:
    """Fresh 3-partition source topic and dead-letter topic, deleted (with the template) after."""
    name = f"{index}-src"
    s = Setup(kafka_bootstrap, es_url, name, f"{name}.dlq", index)
    create_topic(kafka_bootstrap, s.topic, 3)
    create_topic(kafka_bootstrap, s.dlq, 1)
    yield s
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for fut in admin.delete_topics([s.topic, s.dlq]).values():
        with contextlib.suppress(Exception):
            fut.result(30)
    s.es_url = es_url  # a test may have pointed it at a private node, gone by now
    with s.es() as es:
        es.delete_index_template(f"{index}-template")


class Running:
    """An Indexer running on a thread of the test process."""

    def __init__(self, config: IndexerConfig) -> None:
        self.indexer = Indexer(config)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.indexer.run()
        except BaseException as exc:
            self.error = exc

    def stop(self, timeout: float = 60) -> None:
        self.indexer.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "indexer did not stop"
        assert self.error is None, f"indexer failed: {self.error!r}"


@pytest.fixture
def run_indexer() -> Iterator[Callable[[IndexerConfig], Running]]:
    """Factory: start an Indexer on a thread; every one still running is stopped after."""
    started: list[Running] = []

    def start(config: IndexerConfig) -> Running:
        running = Running(config)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.thread.is_alive():
            running.stop()


@pytest.fixture
def spawn_indexer(tmp_path: Path) -> Iterator[Callable[[Path], subprocess.Popen[bytes]]]:
    """Factory: `kafka-logging index --config PATH` as a subprocess; all are killed after."""
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(config_path: Path) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"indexer-{len(procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [str(VENV_BIN / "kafka-logging"), "index", "--config", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)


def yesterday() -> datetime:
    return datetime.now(UTC) - timedelta(days=1)
