"""Two indexers share ONE service's records (issue 16, item 1): processes of one service log
through KafkaHandler with its default message key (per process since this release; it was
service.name, which put the whole service in one partition) into a multi-partition topic, and
each of two indexers in the group indexes a part of them."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest
from confluent_kafka.admin import AdminClient
from indexer_support import Running, Setup
from kafka_support import create_topic

from indexer.config import IndexerConfig

pytestmark = pytest.mark.timeout(240)

PROCESSES = 12  # processes of the one service (a gunicorn with 12 workers, say)
PER_PROCESS = 100
PARTITIONS = 4

EMIT = """
import logging, sys
from kafka_logging import KafkaHandler
handler = KafkaHandler(sys.argv[1], sys.argv[2], service_name="checkout")
logger = logging.getLogger("app")
logger.propagate = False
logger.addHandler(handler)
logger.setLevel(logging.INFO)
for i in range(int(sys.argv[3])):
    logger.info("order %d paid", i)
handler.flush()
handler.close()
assert handler.stats()["delivered"] == int(sys.argv[3]), handler.stats()
"""


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        pause.wait(0.2)


def test_two_indexers_each_index_part_of_one_services_records(
    setup: Setup, run_indexer: Callable[[IndexerConfig], Running]
) -> None:
    """12 processes of service `checkout` log 100 records each through KafkaHandler (default
    key) into a 4-partition topic while two indexers share the group: every record is
    indexed once, and both indexers index some of them."""
    topic = f"{setup.topic}-4p"
    create_topic(setup.bootstrap, topic, PARTITIONS)
    try:
        config = setup.config(consumer={"topics": [topic]})
        first, second = run_indexer(config), run_indexer(config)
        _wait(
            lambda: all(r.indexer.health().get("partitions", 0) > 0 for r in (first, second)),
            90,
            "both indexers to own partitions",
        )
        emitters = [
            subprocess.Popen([sys.executable, "-c", EMIT, setup.bootstrap, topic, str(PER_PROCESS)])
            for _ in range(PROCESSES)
        ]
        assert [p.wait(120) for p in emitters] == [0] * PROCESSES
        total = PROCESSES * PER_PROCESS
        assert setup.wait_count(total, timeout=120) == total
        first.stop()
        second.stop()
        indexed = [int(r.indexer.metrics.indexed._value.get()) for r in (first, second)]
        assert sum(indexed) == total
        assert min(indexed) > 0, f"one indexer got nothing of the service: {indexed}"
    finally:
        admin = AdminClient({"bootstrap.servers": setup.bootstrap})
        for future in admin.delete_topics([topic]).values():
            with contextlib.suppress(Exception):
                future.result(30)
