"""Fixtures for the handler's unit tests: a KafkaHandler wired to a fake producer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from handler_fakes import FakeProducer

from kafka_logging.handler import KafkaHandler
from kafka_logging.handler import delivery as worker_module


@pytest.fixture
def producers(monkeypatch: pytest.MonkeyPatch) -> list[FakeProducer]:
    """Every fake producer a handler's worker creates, in order."""
    made: list[FakeProducer] = []

    def factory(config: dict[str, Any]) -> FakeProducer:
        producer = FakeProducer(config)
        made.append(producer)
        return producer

    monkeypatch.setattr(worker_module, "_confluent_producer", factory)
    return made


@pytest.fixture
def make_handler(producers: list[FakeProducer]) -> Iterator[Callable[..., KafkaHandler]]:
    """Factory for a KafkaHandler on a fake producer, attached to a private logger."""
    made: list[KafkaHandler] = []

    def make(**kwargs: Any) -> KafkaHandler:
        kwargs.setdefault("service_name", "unit")
        kwargs.setdefault("diagnostics_interval", 3600)
        handler = KafkaHandler("127.0.0.1:1", "unit-topic", **kwargs)
        made.append(handler)
        return handler

    yield make
    for handler in made:
        handler.close(timeout=1)


@pytest.fixture
def logger(request: pytest.FixtureRequest) -> logging.Logger:
    log = logging.getLogger(f"unit.{request.node.name}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    for h in list(log.handlers):
        log.removeHandler(h)
    return log
