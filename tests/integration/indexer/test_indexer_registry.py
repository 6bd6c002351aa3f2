"""Avro in Confluent's wire format through a real schema registry (Apicurio, ccompat API),
written by kafka_logging.KafkaHandler, indexed by the indexer."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

import pytest
from indexer_support import Running, Setup

from indexer.config import IndexerConfig
from kafka_logging.handler import KafkaHandler

pytestmark = pytest.mark.timeout(240)


def test_handler_avro_through_the_registry_is_indexed(
    setup: Setup, run_indexer: Callable[[IndexerConfig], Running], schema_registry_url: str
) -> None:
    """Records the handler wrote as registry-framed Avro are decoded with the registry's
    writer schema and indexed with their fields (message, level, extra fields)."""
    handler = KafkaHandler(
        setup.bootstrap,
        setup.topic,
        service_name="registry-svc",
        serializer="avro",
        schema_registry_url=schema_registry_url,
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
    running = run_indexer(setup.config(schema_registry={"url": schema_registry_url}))
    assert setup.wait_count(20) == 20
    running.stop()
    assert running.indexer.metrics.dead_lettered.labels("decode")._value.get() == 0
    with setup.es() as es:
        hits = es.search(f"{setup.index}-*", {"size": 20, "sort": ["order.id"]})["hits"]["hits"]
    first = hits[0]["_source"]
    assert first["message"] == "registered 0"
    assert first["log"]["level"] == "warning"
    assert first["service"]["name"] == "registry-svc"
    assert [h["_source"]["order"]["id"] for h in hits] == list(range(20))
