"""The handler reports which hot path runs."""

from __future__ import annotations

from collections.abc import Callable

from kafka_logging import KafkaHandler, speedups


def test_stats_name_the_hot_path(make_handler: Callable[..., KafkaHandler]) -> None:
    """stats()["speedups"] is "rust" or "python", as kafka_logging.speedups decided."""
    assert make_handler().stats()["speedups"] == speedups.IMPLEMENTATION
