"""The producer: confluent-kafka's produce() called positionally (see shipper/producer.py)."""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError, Producer

from shipper.producer import NOW, PARTITION_ANY


def test_positional_produce_takes_our_value_key_callback_and_headers() -> None:
    """produce(topic, value, key, PARTITION_ANY, on_delivery, None, NOW, headers) queues the
    message with our value and key and reports it to our callback; headers in that position
    are accepted (headers and timestamps are read back from Kafka in the integration tests)."""
    producer = Producer({"bootstrap.servers": "127.0.0.1:1", "socket.timeout.ms": 1000})
    reports: list[tuple[Any, Any]] = []
    headers = [("kl.encoding", b"json"), ("kl.event_id", b"abc-0")]
    producer.produce(
        "t",
        b"value",
        b"key",
        PARTITION_ANY,
        lambda e, m: reports.append((e, m)),
        None,
        NOW,
        headers,
    )
    producer.purge(in_queue=True, in_flight=True)
    producer.poll(1.0)
    [(err, msg)] = reports
    assert err.code() == KafkaError._PURGE_QUEUE
    assert (msg.value(), msg.key(), msg.topic()) == (b"value", b"key", "t")
