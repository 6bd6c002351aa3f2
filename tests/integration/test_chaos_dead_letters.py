"""The chaos report counts each dead-lettered record once (copies share a kl.dlq.id)."""

from __future__ import annotations

from confluent_kafka import Producer

from kafka_logging.chaos.run import count_dead_letters


def test_repeated_dead_letters_count_once(kafka_bootstrap: str, topic: str) -> None:
    """Two copies with one kl.dlq.id, one with another id and one older copy with only
    kl.dlq.topic/partition/offset: three records; a topic that does not exist: 0."""
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for dlq_id in ("logs-0-5", "logs-0-5", "logs-1-9"):
        producer.produce(topic, b"x", headers=[("kl.dlq.id", dlq_id.encode())])
    old = [("kl.dlq.topic", b"logs"), ("kl.dlq.partition", b"2"), ("kl.dlq.offset", b"3")]
    producer.produce(topic, b"x", headers=old)
    assert producer.flush(30) == 0
    assert count_dead_letters(kafka_bootstrap, topic) == 3
    assert count_dead_letters(kafka_bootstrap, f"{topic}-absent") == 0
