"""The librdkafka settings the indexer gives its two clients draw no CONFWARN from
librdkafka (issue 16, item 3): neither with deploy/indexer.yaml as documented, nor with the
example it documented before (consumer properties under kafka.librdkafka)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from indexer.config import IndexerConfig, load
from indexer.consumer import consumer_config, producer_config
from kafka_logging import config as shared

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "indexer.yaml"


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _client_log(config: IndexerConfig) -> list[str]:
    """Everything librdkafka logs while the indexer's consumer and dead-letter producer are
    created and polled once against the real broker."""
    lines = _Lines()
    logger = logging.Logger("librdkafka-capture", logging.DEBUG)
    logger.addHandler(lines)
    consumer = Consumer({**consumer_config(config), "logger": logger})
    producer = Producer({**producer_config(config), "logger": logger})
    try:
        consumer.poll(0.5)
        producer.poll(0.5)
    finally:
        consumer.close()
        producer.flush(5)
    return lines.lines


def test_the_documented_configuration_draws_no_confwarn(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deploy/indexer.yaml as shipped (its kafka.consumer / kafka.producer sections with the
    real defaults): no CONFWARN from either client."""
    monkeypatch.setenv("KAFKA_LOGGING__KAFKA__BOOTSTRAP_SERVERS", kafka_bootstrap)
    config = load(DEPLOY)
    assert config.kafka.consumer["session.timeout.ms"] == 10_000  # the real default, written
    lines = _client_log(config)
    assert [line for line in lines if "CONFWARN" in line] == []


def test_consumer_settings_under_the_shared_passthrough_draw_no_confwarn(
    kafka_bootstrap: str,
) -> None:
    """The example the file used to teach (session.timeout.ms and the prefetch bounds under
    kafka.librdkafka) reaches the consumer only: no CONFWARN from the producer."""
    data: dict[str, Any] = {
        "kafka": {
            "bootstrap_servers": kafka_bootstrap,
            "librdkafka": {
                "session.timeout.ms": 45000,
                "queued.max.messages.kbytes": 8192,
                "fetch.max.bytes": 16777216,
                "linger.ms": 20,
            },
        }
    }
    config = shared.parse(data, IndexerConfig, environ={})
    assert consumer_config(config)["session.timeout.ms"] == 45000
    assert producer_config(config)["linger.ms"] == 20
    lines = _client_log(config)
    assert [line for line in lines if "CONFWARN" in line] == []
