"""Avro in Confluent's wire format through a real schema registry (Apicurio, ccompat API),
written by kafka_logging.KafkaHandler, indexed by the indexer."""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from indexer_support import Running, Setup

from indexer.config import IndexerConfig
from kafka_logging.handler import KafkaHandler
from kafka_logging.stack.errors import StackError
from kafka_logging.stack.registry import ensure_registry, start_registry, stop_registry
from kafka_logging.stack.settings import default_cache_dir

pytestmark = pytest.mark.timeout(240)


def _free_port() -> int:
    """A port below the ephemeral range: a client connection cannot take it before the bind."""
    from kafka_logging.stack.procs import free_port_block

    return free_port_block(1)


@pytest.fixture(scope="module")
def registry_url() -> Iterator[str]:
    """An Apicurio Registry for this module (Confluent-compatible URL)."""
    try:
        home = ensure_registry(default_cache_dir(), progress=print)
        with tempfile.TemporaryDirectory(prefix="kl-registry-") as work:
            running = start_registry(home, _free_port(), Path(work))
            try:
                yield running.url
            finally:
                stop_registry(running)
    except StackError as exc:
        pytest.fail(f"the schema registry could not be started: {exc}", pytrace=False)


def test_handler_avro_through_the_registry_is_indexed(
    setup: Setup, run_indexer: Callable[[IndexerConfig], Running], registry_url: str
) -> None:
    """Records the handler wrote as registry-framed Avro are decoded with the registry's
    writer schema and indexed with their fields (message, level, extra fields)."""
    handler = KafkaHandler(
        setup.bootstrap,
        setup.topic,
        service_name="registry-svc",
        serializer="avro",
        schema_registry_url=registry_url,
    )
    logger = logging.getLogger(f"indexer.registry.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for i in range(20):
            logger.warning("registered %d", i, extra={"order": {"id": i}})
        assert handler.flush(30)
    finally:
        handler.close()
    running = run_indexer(setup.config(schema_registry={"url": registry_url}))
    assert setup.wait_count(20) == 20
    running.stop()
    assert running.indexer.metrics.dead_lettered.labels("decode")._value.get() == 0
    with setup.es() as es:
        hits = es.search(index=f"{setup.index}-*", size=20, sort=["order.id"])["hits"]["hits"]
    first = hits[0]["_source"]
    assert first["message"] == "registered 0"
    assert first["log"]["level"] == "warning"
    assert first["service"]["name"] == "registry-svc"
    assert [h["_source"]["order"]["id"] for h in hits] == list(range(20))
