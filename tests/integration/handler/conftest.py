"""Fixtures of the handler's integration tests: a real schema registry (Apicurio)."""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kafka_logging.stack.errors import StackError
from kafka_logging.stack.registry import ensure_registry, start_registry, stop_registry
from kafka_logging.stack.settings import default_cache_dir


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def schema_registry_url() -> Iterator[str]:
    """The Confluent-compatible URL of an Apicurio Registry started for this session."""
    try:
        home = ensure_registry(default_cache_dir(), progress=print)
        with tempfile.TemporaryDirectory(prefix="kl-registry-") as work:
            running = start_registry(home, _free_port(), Path(work))
            try:
                yield running.url
            finally:
                stop_registry(running)
    except StackError as exc:
        pytest.fail(f"the schema registry could not be started: {exc}", pytrace=False)
