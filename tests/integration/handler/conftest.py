"""Fixtures of the handler's integration tests: a real schema registry (Apicurio)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kafka_logging.stack.errors import StackError
from kafka_logging.stack.procs import free_port_block
from kafka_logging.stack.registry import ensure_registry, start_registry, stop_registry
from kafka_logging.stack.settings import default_cache_dir


@pytest.fixture(scope="session")
def schema_registry_url() -> Iterator[str]:
    """The Confluent-compatible URL of an Apicurio Registry started for this session."""
    try:
        home = ensure_registry(default_cache_dir(), progress=print)
        with tempfile.TemporaryDirectory(prefix="kl-registry-") as work:
            running = start_registry(home, free_port_block(1), Path(work))
            try:
                yield running.url
            finally:
                stop_registry(running)
    except StackError as exc:
        pytest.fail(f"the schema registry could not be started: {exc}", pytrace=False)
