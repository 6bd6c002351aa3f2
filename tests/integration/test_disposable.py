"""Disposable services: private brokers and nodes that tests may stop, kill and restart."""

from __future__ import annotations

from typing import Any

from kafka_logging.stack import manager, procs, services


def test_disposable_kafka_restarts_on_its_data(make_service: Any) -> None:
    """A private broker stops (its port closes) and starts again healthy."""
    kafka = make_service("kafka")
    assert services.kafka_health(kafka.address) is None
    pids = manager.load_state(kafka.settings)["kafka"].pids()
    kafka.stop()
    assert all(not procs.is_ours(pid, "kafka.Kafka") for pid in pids)
    port = kafka.settings.kafka_port
    assert not procs.port_open("127.0.0.1", port)
    kafka.start()
    assert services.kafka_health(kafka.address) is None
