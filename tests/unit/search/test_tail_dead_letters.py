"""`tail` shows each dead letter once per kl.dlq.id (issue 16, item 2)."""

from __future__ import annotations

import threading

from test_search_tail import FakeMessage, make

from kafka_logging.wire.dead_letter import HEADER_OFFSET, HEADER_PARTITION, HEADER_TOPIC
from kafka_logging.wire.record import Encoding, encode_json, headers_for


def dead(message: str, source_offset: int, with_id: bool = True) -> FakeMessage:
    headers = [
        *headers_for(Encoding.JSON, message),
        (HEADER_TOPIC, b"logs"),
        (HEADER_PARTITION, b"2"),
        (HEADER_OFFSET, str(source_offset).encode()),
    ]
    if with_id:
        headers.append(("kl.dlq.id", f"logs-2-{source_offset}".encode()))
    return FakeMessage(encode_json({"message": message}), headers)


def _shown(*batches: list[FakeMessage]) -> tuple[list[str], int, list[str]]:
    tail, consumer, warnings = make()
    consumer.batches = list(batches)
    consumer.stop = threading.Event()
    shown = [r["message"] for b in tail.batches(consumer.stop) for r in b]
    return shown, tail.repeated_dead_letters, warnings


def test_a_repeated_dead_letter_is_shown_once_and_counted() -> None:
    """Two copies of one source record (same kl.dlq.id), in different fetches: shown once,
    the repeat counted and reported in one warning."""
    shown, repeated, warnings = _shown([dead("a", 5), dead("b", 6)], [dead("a", 5)])
    assert shown == ["a", "b"]
    assert repeated == 1
    assert len(warnings) == 1
    assert "logs-2-5" in warnings[0]


def test_copies_written_before_kl_dlq_id_are_deduplicated_by_their_source_position() -> None:
    """Older dead letters without kl.dlq.id: topic/partition/offset headers make the id."""
    shown, repeated, _ = _shown([dead("a", 5, with_id=False), dead("a", 5)])
    assert shown == ["a"]
    assert repeated == 1


def test_ordinary_records_are_never_deduplicated() -> None:
    """Records without dead-letter headers (even identical ones) are all shown."""
    plain = FakeMessage(encode_json({"message": "same"}), headers_for(Encoding.JSON, "x"))
    shown, repeated, _ = _shown([plain, plain])
    assert shown == ["same", "same"]
    assert repeated == 0
