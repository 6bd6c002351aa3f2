"""Fixtures of the search/tail integration tests: a corpus in real Elasticsearch, processes."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from search_helpers import (
    KAFKA_LOGGING,
    MAPPING,
    Corpus,
    Lines,
    Running,
    build_records,
    daily,
)


@pytest.fixture(scope="module")
def corpus(es_url: str) -> Iterator[Corpus]:
    """Records of every kind (info pages, warning/WARNING/warn, debug, error with stack trace
    and extra fields, critical, a 3-day-old one) bulk-indexed into daily indices, refreshed."""
    from elasticsearch import Elasticsearch, helpers

    now = datetime.now(UTC).replace(microsecond=0)
    data = Corpus(prefix=f"test-search-corpus-{uuid.uuid4().hex[:8]}", now=now)
    data.records = build_records(now)
    with Elasticsearch(es_url, request_timeout=60) as es:
        for name in {
            daily(data.prefix, datetime.fromisoformat(r["@timestamp"])) for r in data.records
        }:
            es.indices.create(index=name, mappings=MAPPING, settings={"number_of_replicas": 0})
        actions = [
            {
                "_index": daily(data.prefix, datetime.fromisoformat(r["@timestamp"])),
                "_id": r["event"]["id"],
                "_source": r,
            }
            for r in data.records
        ]
        helpers.bulk(es, actions, refresh="wait_for")
        yield data
        es.indices.delete(index=f"{data.prefix}-*", ignore_unavailable=True, allow_no_indices=True)


@pytest.fixture
def spawn() -> Iterator[Any]:
    """Start `kafka-logging ARGS...` with piped output; terminated after the test."""
    started: list[Running] = []

    def start(*args: str) -> Running:
        process = subprocess.Popen(
            [KAFKA_LOGGING, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        running = Running(process, Lines(process.stdout), Lines(process.stderr))  # type: ignore[arg-type]
        started.append(running)
        return running

    yield start
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait(timeout=30)
