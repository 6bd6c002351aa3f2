"""What the indexer's consumer and dead-letter producer are given from kafka.* and dlq.*."""

from __future__ import annotations

from typing import Any

import pytest

from indexer.config import IndexerConfig
from indexer.consumer import consumer_config, producer_config
from kafka_logging.config import parse
from kafka_logging.errors import ConfigError


def _config(**data: Any) -> IndexerConfig:
    return parse(data, IndexerConfig, environ={})


def test_the_indexers_consumer_defaults_apply_when_nothing_is_set() -> None:
    """session.timeout.ms 10 s (not librdkafka's 45 s), as deploy/indexer.yaml documents;
    the producer gets none of the consumer's settings."""
    config = _config()
    assert consumer_config(config)["session.timeout.ms"] == 10_000
    assert "session.timeout.ms" not in producer_config(config)
    assert producer_config(config)["linger.ms"] == 5


def test_a_shared_setting_beats_the_default_and_the_client_section_beats_both() -> None:
    """kafka.librdkafka (the old place) overrides the indexer's default; kafka.consumer as
    written overrides kafka.librdkafka."""
    old = _config(kafka={"librdkafka": {"session.timeout.ms": 45000}})
    assert consumer_config(old)["session.timeout.ms"] == 45000
    both = _config(
        kafka={
            "librdkafka": {"session.timeout.ms": 45000},
            "consumer": {"session.timeout.ms": 20000},
        }
    )
    assert consumer_config(both)["session.timeout.ms"] == 20000
    assert consumer_config(both)["fetch.max.bytes"] == 16 * 1024 * 1024  # defaults kept


def test_dlq_librdkafka_still_applies_with_a_deprecation_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The old dead-letter producer passthrough is applied (over kafka.producer) and logs a
    WARNING naming kafka.producer."""
    config = _config(kafka={"producer": {"linger.ms": 20}}, dlq={"librdkafka": {"linger.ms": 50}})
    assert producer_config(config)["linger.ms"] == 50
    assert any("kafka.producer" in r.getMessage() for r in caplog.records)


def test_kafka_consumer_cannot_take_over_committing() -> None:
    """enable.auto.commit & co are refused in kafka.consumer as in kafka.librdkafka."""
    with pytest.raises(ConfigError, match=r"kafka\.consumer must not set enable\.auto\.commit"):
        _config(kafka={"consumer": {"enable.auto.commit": True}})
