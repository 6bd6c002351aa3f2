"""The local stack answers real clients: the ground every other integration test stands on."""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer, Producer
from elasticsearch import Elasticsearch


def test_kafka_produce_consume_round_trip(kafka_bootstrap: str, topic: str) -> None:
    """A message produced with confluent-kafka and acknowledged comes back byte for byte."""
    payload = f"hello {uuid.uuid4()}".encode()
    delivered: list[object] = []
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True})
    producer.produce(
        topic,
        payload,
        key=b"k",
        headers=[("h", b"v")],
        on_delivery=lambda e, m: delivered.append(e),
    )
    assert producer.flush(30) == 0
    assert delivered == [None]

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"g-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    try:
        message = None
        for _ in range(60):
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                break
        assert message is not None
        assert message.error() is None
        assert (message.key(), message.value(), message.headers()) == (b"k", payload, [("h", b"v")])
    finally:
        consumer.close()


def test_elasticsearch_index_search_round_trip(es_url: str, index: str) -> None:
    """A document indexed with the elasticsearch client is found by a search on its own words."""
    with Elasticsearch(es_url) as es:
        es.index(
            index=index, id="1", document={"message": "disk quota exceeded"}, refresh="wait_for"
        )
        hits = es.search(index=index, query={"match": {"message": "quota"}})["hits"]
    assert hits["total"]["value"] == 1
    assert hits["hits"][0]["_source"] == {"message": "disk quota exceeded"}
