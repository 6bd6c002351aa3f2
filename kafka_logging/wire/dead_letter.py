"""The headers the indexer adds to a dead-letter copy, and the id a reader deduplicates on.

A record whose offset was not committed before its partition changed owner is read again
and dead-lettered again. Every copy carries the same `kl.dlq.id`, derived from the source
record's position (`<topic>-<partition>-<offset>`), so any reader of the dead-letter topic can
show each one once.
"""

from __future__ import annotations

from kafka_logging.wire.record import Headers, header

HEADER_REASON = "kl.dlq.reason"
HEADER_TOPIC = "kl.dlq.topic"
HEADER_PARTITION = "kl.dlq.partition"
HEADER_OFFSET = "kl.dlq.offset"
HEADER_STAGE = "kl.dlq.stage"  # "decode" or "index"
HEADER_ID = "kl.dlq.id"


def dead_letter_id(topic: str, partition: int | str, offset: int | str) -> str:
    """The kl.dlq.id of the record at `topic`[`partition`]@`offset` (the same form as the
    indexer's fallback document _id)."""
    return f"{topic}-{partition}-{offset}"


def dead_letter_id_of(headers: Headers | None) -> str | None:
    """The dead-letter id a message carries: its kl.dlq.id, else one made from the
    kl.dlq.topic/partition/offset headers (copies written before kl.dlq.id existed); None
    for a message that is not a dead letter."""
    if not headers:
        return None
    found = header(headers, HEADER_ID)
    if found is not None:
        return found
    topic = header(headers, HEADER_TOPIC)
    partition = header(headers, HEADER_PARTITION)
    offset = header(headers, HEADER_OFFSET)
    if topic is None or partition is None or offset is None:
        return None
    return dead_letter_id(topic, partition, offset)
