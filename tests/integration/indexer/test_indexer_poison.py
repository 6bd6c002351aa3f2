"""Poison records go to the dead-letter topic with reasons; the rest is indexed, nothing stuck."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from indexer_support import Running, Setup, consume_all, ecs_record, produce, produce_raw

from indexer.config import IndexerConfig
from indexer.dlq import (
    HEADER_ID,
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_REASON,
    HEADER_STAGE,
    HEADER_TOPIC,
)
from kafka_logging.wire.record import Encoding, encode_json, header, headers_for

pytestmark = pytest.mark.timeout(180)


def test_poison_goes_to_the_dead_letter_topic_and_the_rest_is_indexed(
    setup: Setup, run_indexer: Callable[[IndexerConfig], Running]
) -> None:
    """Undecodable bytes and a mapping conflict are dead-lettered with their original bytes,
    headers, reason and source position; the good records around them are indexed; the
    partition's committed offset passes the poison (not stuck)."""
    from confluent_kafka import Consumer, TopicPartition

    good_before = [ecs_record(i) for i in range(50)]
    conflict = ecs_record(50, log={"level": {"nested": "object, but level is a keyword"}})
    bad_date = ecs_record(51)
    bad_date["@timestamp"] = "not-a-date-at-all"
    good_after = [ecs_record(i) for i in range(52, 100)]
    garbage = b"\x00\x01 this is not json"
    unknown = encode_json(ecs_record(999))

    produce(setup.bootstrap, setup.topic, good_before)
    produce_raw(
        setup.bootstrap,
        setup.topic,
        [
            (garbage, [("trace", b"keep-me")]),
            (encode_json(conflict), headers_for(Encoding.JSON, conflict["event"]["id"])),
            (encode_json(bad_date), headers_for(Encoding.JSON, bad_date["event"]["id"])),
            (unknown, [("kl.encoding", b"protobuf")]),
            (None, []),
        ],
    )
    produce(setup.bootstrap, setup.topic, good_after)

    running = run_indexer(setup.config())
    assert setup.wait_count(98) == 98
    dead = consume_all(setup.bootstrap, setup.dlq, 5)
    running.stop()

    assert len(dead) == 5
    by_value = {m.value(): m for m in dead}
    assert set(by_value) == {
        garbage,
        encode_json(conflict),
        encode_json(bad_date),
        unknown,
        None,
    }
    garbage_msg = by_value[garbage]
    assert header(garbage_msg.headers(), "trace") == "keep-me"
    assert header(garbage_msg.headers(), HEADER_TOPIC) == setup.topic
    assert header(garbage_msg.headers(), HEADER_PARTITION) == "0"
    assert header(garbage_msg.headers(), HEADER_OFFSET) == "50"
    assert header(garbage_msg.headers(), HEADER_STAGE) == "decode"
    assert header(garbage_msg.headers(), HEADER_ID) == f"{setup.topic}-0-50"
    assert "not JSON" in (header(garbage_msg.headers(), HEADER_REASON) or "")
    conflict_msg = by_value[encode_json(conflict)]
    assert header(conflict_msg.headers(), HEADER_STAGE) == "index"
    assert "400" in (header(conflict_msg.headers(), HEADER_REASON) or "")
    assert header(conflict_msg.headers(), HEADER_OFFSET) == "51"
    assert "@timestamp" in (header(by_value[encode_json(bad_date)].headers(), HEADER_REASON) or "")
    assert "protobuf" in (header(by_value[unknown].headers(), HEADER_REASON) or "")
    assert "tombstone" in (header(by_value[None].headers(), HEADER_REASON) or "")

    consumer = Consumer({"bootstrap.servers": setup.bootstrap, "group.id": setup.group})
    try:
        (committed,) = consumer.committed([TopicPartition(setup.topic, 0)], 30)
    finally:
        consumer.close()
    assert committed.offset == 103  # past every record, poison included
    assert setup.count() == 98
