"""Fixtures of the recipe tests: a fresh topic and service name per app, topics deleted after."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from apps_harness import Target
from confluent_kafka.admin import AdminClient


@pytest.fixture
def make_target(kafka_bootstrap: str) -> Iterator[Callable[[str], Target]]:
    """`make_target("label")` -> a Target on a new single-partition topic (deleted afterwards)."""
    made: list[Target] = []

    def make(label: str) -> Target:
        target = Target.new(kafka_bootstrap, label)
        made.append(target)
        return target

    yield make
    if made:
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        for future in admin.delete_topics([t.topic for t in made]).values():
            future.result(30)
