"""The default message key against a real multi-partition topic: one service's processes
spread over the partitions, each process's records in one partition, in order."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict

import pytest
from confluent_kafka.admin import AdminClient
from kafka_support import create_topic, read_topic

from kafka_logging.wire import record as wire

PROCESSES, RECORDS, PARTITIONS = 8, 300, 6
CHILD = """
import logging, sys
from kafka_logging import KafkaHandler
handler = KafkaHandler(sys.argv[1], sys.argv[2], service_name="spread")
logging.basicConfig(level=logging.INFO, handlers=[handler])
for i in range(int(sys.argv[4])):
    logging.getLogger("app").info("%s %d", sys.argv[3], i)
"""


@pytest.mark.timeout(300)
def test_one_service_spreads_over_partitions_in_order_per_process(
    kafka_bootstrap: str, topic: str
) -> None:
    """8 processes of one service with the default key: their records use several of the
    topic's 6 partitions, each process's records all in one partition, in logging order."""
    spread = f"{topic}-6p"
    create_topic(kafka_bootstrap, spread, partitions=PARTITIONS)
    try:
        check_spread(kafka_bootstrap, spread)
    finally:
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        admin.delete_topics([spread])[spread].result(30)


def check_spread(kafka_bootstrap: str, spread: str) -> None:
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, kafka_bootstrap, spread, f"p{n}", str(RECORDS)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(PROCESSES)
    ]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err

    def convert(message: object) -> tuple[int, str, int]:
        text = wire.decode(message.value(), message.headers())["message"]  # type: ignore[attr-defined]
        process, number = text.split()
        return message.partition(), process, int(number)  # type: ignore[attr-defined]

    got = read_topic(kafka_bootstrap, spread, PROCESSES * RECORDS, 120, 1.0, convert)
    assert len(got) == PROCESSES * RECORDS
    partitions: dict[str, set[int]] = defaultdict(set)
    order: dict[str, list[int]] = defaultdict(list)
    for partition, process, number in got:
        partitions[process].add(partition)
        order[process].append(number)
    assert all(len(used) == 1 for used in partitions.values()), dict(partitions)
    assert all(numbers == list(range(RECORDS)) for numbers in order.values())
    used = set().union(*partitions.values())
    print(f"\n{PROCESSES} processes of one service used partitions {sorted(used)}")
    assert len(used) >= 2
