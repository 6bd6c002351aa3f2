"""Fixtures of the search/tail integration tests: a corpus in the real search engine,
processes."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from search_helpers import (
    KAFKA_LOGGING,
    Corpus,
    Lines,
    Running,
    build_records,
    create_index,
    daily,
    index_docs,
)


@pytest.fixture(scope="module")
def corpus(engine_client: Any) -> Iterator[Corpus]:
    """Records of every kind (info pages, warning/WARNING/warn, debug, error with stack trace
    and extra fields, critical, a 3-day-old one) bulk-indexed into daily indices, refreshed."""
    now = datetime.now(UTC).replace(microsecond=0)
    data = Corpus(prefix=f"test-search-corpus-{uuid.uuid4().hex[:8]}", now=now)
    data.records = build_records(now)
    docs = [(daily(data.prefix, datetime.fromisoformat(r["@timestamp"])), r) for r in data.records]
    for name in {name for name, _ in docs}:
        create_index(engine_client, name)
    index_docs(engine_client, docs)
    yield data
    engine_client.delete_matching(f"{data.prefix}-*")


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
