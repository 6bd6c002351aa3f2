"""Every dead-letter copy carries kl.dlq.id, derived from the source position only."""

from __future__ import annotations

from test_worker import TOPIC, FakeConsumer, FakeES, FakeProducer, Msg, make, record

from kafka_logging.wire.dead_letter import HEADER_ID
from kafka_logging.wire.record import header


def test_copies_of_one_record_carry_the_same_id_from_its_position() -> None:
    """The same source record dead-lettered by two workers (a re-read after a rebalance)
    gets the same kl.dlq.id, `<topic>-<partition>-<offset>`."""
    ids = []
    for _ in range(2):
        producer = FakeProducer()
        consumer = FakeConsumer(batches=[[Msg(1, 7, record(1, 7))]])
        consumer.script[1] = lambda c: c.assign(1)
        consumer.stop_when = lambda c=consumer: c.calls > 15  # type: ignore[misc]
        es = FakeES(lambda _i: (400, "document_parsing_exception"))
        make(consumer, es, producer).run()
        (copy,) = producer.produced
        ids.append(header(copy["headers"], HEADER_ID))
    assert ids == [f"{TOPIC}-1-7", f"{TOPIC}-1-7"]
