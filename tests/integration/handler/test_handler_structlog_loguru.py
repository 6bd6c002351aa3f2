"""structlog (native and both standard-library routes) and loguru through a real KafkaHandler
to the real broker: records that look like the handler's own."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import loguru
import pytest
import structlog
from handler_helpers import consume

from kafka_logging import KafkaHandler, StructlogProcessor, structlog_render_to_log_kwargs

ECS_ONLY = ("level", "logger", "timestamp")  # never repeated as top-level fields


@pytest.fixture
def handler(kafka_bootstrap: str, topic: str) -> Iterator[KafkaHandler]:
    made = KafkaHandler(kafka_bootstrap, topic, service_name="libs", close_timeout=5)
    yield made
    made.close()


@pytest.fixture
def stdlib_logger(handler: KafkaHandler) -> Iterator[logging.Logger]:
    log = logging.getLogger("it.libs.orders")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    yield log
    log.removeHandler(handler)
    structlog.reset_defaults()


def shipped(bootstrap: str, topic: str, n: int) -> list[dict[str, Any]]:
    return [c.record for c in consume(bootstrap, topic, n)]


def check_shape(record: dict[str, Any], message: str, level: str, logger: str) -> None:
    assert record["message"] == message
    assert record["log"]["level"] == level
    assert record["log"]["logger"] == logger
    assert list(record["event"]) == ["id"]  # structlog's `event` is the message, not a field
    assert record["service"]["name"] == "libs"
    assert not [k for k in ECS_ONLY if k in record], record
    assert record["log"]["origin"]["file"]["name"] == "test_handler_structlog_loguru.py"


def fail() -> None:
    try:
        raise KeyError("sku-1")
    except KeyError as exc:
        raise ValueError("no stock") from exc


def test_structlog_native_processor(
    kafka_bootstrap: str, topic: str, handler: KafkaHandler
) -> None:
    """structlog's own logger with StructlogProcessor: the event is the message, bound and
    call key/values are fields, add_log_level/TimeStamper/logger map onto the ECS fields,
    an exception carries its full chained trace; the chain goes on to the renderer."""
    rendered: list[str] = []
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            StructlogProcessor(handler),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=lambda *args: CapturingLogger(rendered),
    )
    try:
        log = structlog.get_logger().bind(logger="shop.orders", order_id=42)
        log.info("order placed", user={"id": 7}, name="kept")
        try:
            fail()
        except ValueError:
            log.exception("order failed")
    finally:
        structlog.reset_defaults()
    first, second = shipped(kafka_bootstrap, topic, 2)
    print("\nstructlog record:", json.dumps(first, sort_keys=True))
    check_shape(first, "order placed", "info", "shop.orders")
    assert first["order_id"] == 42
    assert first["user"] == {"id": 7}
    assert first["extra"] == {"name": "kept"}  # a LogRecord attribute name: kept aside
    assert first["@timestamp"].endswith("Z")
    check_shape(second, "order failed", "error", "shop.orders")
    assert second["error"]["type"] == "ValueError"
    assert second["error"]["message"] == "no stock"
    trace = second["error"]["stack_trace"]
    for part in ("KeyError: 'sku-1'", "direct cause", "in fail"):
        assert part in trace
    assert len(rendered) == 2
    assert json.loads(rendered[0])["event"] == "order placed"


class CapturingLogger:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def msg(self, text: str) -> None:
        self.lines.append(text)

    info = error = exception = msg


def test_structlog_processor_formatter_route(
    kafka_bootstrap: str, topic: str, stdlib_logger: logging.Logger
) -> None:
    """structlog through the standard library with ProcessorFormatter.wrap_for_formatter:
    message, fields, level, logger name and exception as for a handler-native record."""
    structlog.configure(
        processors=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    log = structlog.get_logger("it.libs.orders")
    log.warning("stock low: %d left", 3, sku="A-1")
    try:
        fail()
    except ValueError:
        log.exception("order failed", order_id=9)
    first, second = shipped(kafka_bootstrap, topic, 2)
    check_shape(first, "stock low: 3 left", "warning", "it.libs.orders")
    assert first["sku"] == "A-1"
    check_shape(second, "order failed", "error", "it.libs.orders")
    assert second["order_id"] == 9
    assert second["error"]["type"] == "ValueError"
    assert "KeyError: 'sku-1'" in second["error"]["stack_trace"]


def test_structlog_render_to_log_kwargs_route(
    kafka_bootstrap: str, topic: str, stdlib_logger: logging.Logger
) -> None:
    """structlog through the standard library with kafka_logging's render_to_log_kwargs:
    level/logger/timestamp are not repeated as fields."""
    structlog.configure(
        processors=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog_render_to_log_kwargs,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    structlog.get_logger("it.libs.orders").info("paid %s", "EUR", amount=12.5)
    (only,) = shipped(kafka_bootstrap, topic, 1)
    check_shape(only, "paid EUR", "info", "it.libs.orders")
    assert only["amount"] == 12.5


def test_loguru_sink(kafka_bootstrap: str, topic: str, handler: KafkaHandler) -> None:
    """logger.add(KafkaHandler(...)): the user's message (not loguru's line), bind() and
    extra values as fields, TRACE and SUCCESS by name, the real traceback."""
    logger = loguru.logger
    sink = logger.add(handler, level="TRACE")
    try:
        log = logger.bind(order_id=42)
        log.trace("looking at {}", "cart")
        log.success("order placed for {user}", user="ann")
        try:
            fail()
        except ValueError:
            log.exception("order failed")
    finally:
        logger.remove(sink)
    trace, success, error = shipped(kafka_bootstrap, topic, 3)
    print("\nloguru record:", json.dumps(success, sort_keys=True))
    check_shape(trace, "looking at cart", "trace", "test_handler_structlog_loguru")
    check_shape(success, "order placed for ann", "success", "test_handler_structlog_loguru")
    assert success["order_id"] == 42
    assert success["user"] == "ann"
    check_shape(error, "order failed", "error", "test_handler_structlog_loguru")
    assert error["error"]["type"] == "ValueError"
    assert error["error"]["message"] == "no stock"
    assert "KeyError: 'sku-1'" in error["error"]["stack_trace"]
    assert "in fail" in error["error"]["stack_trace"]
