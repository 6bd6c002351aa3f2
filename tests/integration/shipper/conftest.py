"""Fixtures of the shipper's integration tests (helpers live in shipper_helpers.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from shipper_helpers import Running

from shipper.config import ShipperConfig


@pytest.fixture
def run_shipper() -> Iterator[Callable[..., Running]]:
    """Start Shippers in threads; any still running is stopped after the test."""
    started: list[Running] = []

    def start(config: ShipperConfig, **kwargs: Any) -> Running:
        running = Running(config, **kwargs)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.thread.is_alive():
            running.stop()
