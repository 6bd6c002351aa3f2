"""The indexer against the real Kafka and Elasticsearch: counts, indices, ids, templates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from indexer_support import Running, Setup, consume_all, ecs_record, produce, yesterday

from indexer.config import IndexerConfig

pytestmark = pytest.mark.timeout(180)


def test_n_records_become_exactly_n_documents(
    setup: Setup, run_indexer: Callable[[IndexerConfig], Running]
) -> None:
    """N records over three partitions end as exactly N documents, each under its event.id."""
    records = [ecs_record(i) for i in range(3000)]
    produce(setup.bootstrap, setup.topic, records, partitions=3)
    running = run_indexer(setup.config())
    assert setup.wait_count(3000) == 3000
    running.stop()
    ids = setup.ids()
    assert len(ids) == 3000
    assert sorted(ids) == sorted(r["event"]["id"] for r in records)


def test_records_land_in_the_daily_index_of_their_own_timestamp(
    setup: Setup, run_indexer: Callable[[IndexerConfig], Running]
) -> None:
    """A record stamped yesterday goes to yesterday's index, today's to today's."""
    old, new = yesterday(), datetime.now(UTC)
    produce(setup.bootstrap, setup.topic, [ecs_record(0, old), ecs_record(1, new)])
    running = run_indexer(setup.config())
    assert setup.wait_count(2) == 2
    running.stop()
    with setup.es() as es:
        names = es.index_names(f"{setup.index}-*")
    assert names == [f"{setup.index}-{d:%Y.%m.%d}" for d in (old, new)]


def test_a_replay_after_offsets_are_lost_adds_no_document(
    setup: Setup, run_indexer: Callable[[IndexerConfig], Running]
) -> None:
    """Re-reading everything (new group) answers 409 for each record: still exactly N."""
    records = [ecs_record(i) for i in range(500)]
    produce(setup.bootstrap, setup.topic, records, partitions=3)
    first = run_indexer(setup.config())
    assert setup.wait_count(500) == 500
    first.stop()
    replay = run_indexer(setup.config(consumer={"group_id": setup.group + "-replay"}))
    dupes = 0
    for _ in range(60):
        dupes = int(replay.indexer.metrics.duplicates._value.get())
        if dupes >= 500:
            break
        replay.thread.join(0.5)
    replay.stop()
    assert dupes == 500
    assert setup.count() == 500


def test_records_without_event_id_get_topic_partition_offset_ids(
    setup: Setup, run_indexer: Callable[[IndexerConfig], Running]
) -> None:
    """A record with no event.id is stored under <topic>-<partition>-<offset>."""
    record = ecs_record(0)
    del record["event"]
    produce(setup.bootstrap, setup.topic, [record])
    running = run_indexer(setup.config())
    assert setup.wait_count(1) == 1
    running.stop()
    assert setup.ids() == [f"{setup.topic}-0-0"]


def test_the_template_maps_ecs_fields(
    setup: Setup, run_indexer: Callable[[IndexerConfig], Running]
) -> None:
    """The index gets the template: keyword ids and levels, text+keyword message, date
    @timestamp, keyword labels and extra strings, and the configured refresh interval."""
    produce(setup.bootstrap, setup.topic, [ecs_record(0, extra_field="x")])
    running = run_indexer(setup.config())
    assert setup.wait_count(1) == 1
    running.stop()
    with setup.es() as es:
        (name,) = es.index_names(f"{setup.index}-*")
        props: dict[str, Any] = es.request("GET", f"/{name}/_mapping")[name]["mappings"][
            "properties"
        ]
        settings = es.request("GET", f"/{name}/_settings")[name]["settings"]["index"]
    assert props["@timestamp"]["type"] == "date"
    assert props["event"]["properties"]["id"]["type"] == "keyword"
    assert props["log"]["properties"]["level"]["type"] == "keyword"
    assert props["message"]["type"] == "text"
    assert props["message"]["fields"]["keyword"]["type"] == "keyword"
    assert props["labels"]["properties"]["seq"]["type"] == "keyword"
    assert props["extra_field"]["type"] == "keyword"
    assert settings["refresh_interval"] == "1s"


def test_offsets_are_committed_for_resolved_records(
    setup: Setup, run_indexer: Callable[[IndexerConfig], Running]
) -> None:
    """After a clean stop the group's committed offsets are at the end of each partition."""
    from confluent_kafka import Consumer, TopicPartition

    produce(setup.bootstrap, setup.topic, [ecs_record(i) for i in range(300)], partitions=3)
    running = run_indexer(setup.config())
    assert setup.wait_count(300) == 300
    running.stop()
    consumer = Consumer({"bootstrap.servers": setup.bootstrap, "group.id": setup.group})
    try:
        committed = consumer.committed([TopicPartition(setup.topic, p) for p in range(3)], 30)
    finally:
        consumer.close()
    assert [tp.offset for tp in committed] == [100, 100, 100]
    assert consume_all(setup.bootstrap, setup.dlq, 0, timeout=1) == []


def test_avro_encodings_are_decoded_by_their_header(
    setup: Setup, run_indexer: Callable[[IndexerConfig], Running]
) -> None:
    """Avro single-object and Confluent wire format messages (chosen by kl.encoding) are
    indexed with the same fields as their JSON twin."""
    from indexer_support import produce_raw

    from kafka_logging.wire import avro
    from kafka_logging.wire.record import Encoding, encode_json, headers_for

    records = [ecs_record(i) for i in range(3)]
    encoders = [
        (Encoding.JSON, encode_json),
        (Encoding.AVRO, avro.encode_single_object),
        (Encoding.AVRO_CONFLUENT, avro.confluent_encoder(7)),
    ]
    produce_raw(
        setup.bootstrap,
        setup.topic,
        [
            (encode(r), headers_for(encoding, r["event"]["id"]))
            for r, (encoding, encode) in zip(records, encoders, strict=True)
        ],
    )
    running = run_indexer(setup.config())
    assert setup.wait_count(3) == 3
    running.stop()
    with setup.es() as es:
        hits = es.search(f"{setup.index}-*", {"size": 10})["hits"]["hits"]
    by_id = {h["_id"]: h["_source"] for h in hits}
    for record in records:
        source = by_id[record["event"]["id"]]
        assert source["message"] == record["message"]
        assert source["@timestamp"] == record["@timestamp"]
        assert source["log"]["level"] == "info"
        assert source["labels"] == record["labels"]
