"""kafka.librdkafka / kafka.consumer / kafka.producer: each librdkafka key reaches the client it
belongs to (issue 16, item 3)."""

from __future__ import annotations

import pytest
from pydantic import Field

from kafka_logging.config import KafkaSettings, StrictModel, parse
from kafka_logging.errors import ConfigError
from kafka_logging.kafka_props import CONSUMER_ONLY, PRODUCER_ONLY


class _Daemon(StrictModel):
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)


def _kafka(section: dict[str, object]) -> KafkaSettings:
    return parse({"kafka": section}, _Daemon, environ={}).kafka


def test_a_consumer_only_shared_key_is_not_given_to_producers() -> None:
    """session.timeout.ms under kafka.librdkafka reaches consumers only (no CONFWARN from a
    producer); a shared key such as client.id reaches both."""
    kafka = _kafka({"librdkafka": {"session.timeout.ms": 45000, "client.id": "x"}})
    assert kafka.consumer_config()["session.timeout.ms"] == 45000
    assert "session.timeout.ms" not in kafka.producer_config()
    assert kafka.producer_config()["client.id"] == kafka.consumer_config()["client.id"] == "x"


def test_a_producer_only_shared_key_is_not_given_to_consumers() -> None:
    """linger.ms under kafka.librdkafka reaches producers only; admin clients get neither."""
    kafka = _kafka({"librdkafka": {"linger.ms": 50, "session.timeout.ms": 9000}})
    assert kafka.producer_config()["linger.ms"] == 50
    assert "linger.ms" not in kafka.consumer_config()
    admin = kafka.admin_config()
    assert "linger.ms" not in admin
    assert "session.timeout.ms" not in admin


def test_the_client_sections_win_over_the_shared_one() -> None:
    """kafka.consumer / kafka.producer are applied after kafka.librdkafka."""
    kafka = _kafka(
        {
            "librdkafka": {"socket.timeout.ms": 1000},
            "consumer": {"socket.timeout.ms": 2000},
            "producer": {"socket.timeout.ms": 3000},
        }
    )
    assert kafka.consumer_config()["socket.timeout.ms"] == 2000
    assert kafka.producer_config()["socket.timeout.ms"] == 3000


@pytest.mark.parametrize(
    ("section", "key", "hint"),
    [("consumer", "linger.ms", "kafka.producer"), ("producer", "group.id", "kafka.consumer")],
)
def test_a_key_in_the_wrong_client_section_is_refused(section: str, key: str, hint: str) -> None:
    """A producer property under kafka.consumer (or the reverse) is a config error naming
    the right section."""
    with pytest.raises(ConfigError, match=rf"{section}\.{key}.*{hint}"):
        _kafka({section: {key: 1}})


def test_the_scope_tables_do_not_overlap_and_know_the_usual_suspects() -> None:
    """No property is both consumer-only and producer-only; the ones users set most are known."""
    assert not CONSUMER_ONLY & PRODUCER_ONLY
    assert {"session.timeout.ms", "fetch.max.bytes", "max.poll.interval.ms"} <= CONSUMER_ONLY
    assert {"linger.ms", "acks", "compression.type", "message.timeout.ms"} <= PRODUCER_ONLY
