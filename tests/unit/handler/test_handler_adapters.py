"""structlog event dicts and loguru levels made into LogRecords (pure logic; the libraries
themselves against a real broker are in tests/integration/handler)."""

from __future__ import annotations

import logging

from kafka_logging.handler.adapt import field_items, level_of
from kafka_logging.handler.structlog_adapter import from_processor_formatter, record_from_event


def test_event_dict_maps_onto_the_record_not_fields() -> None:
    """event -> message, level/logger/timestamp -> the LogRecord's own attributes, the rest
    -> fields; the caller's dict is left as it was."""
    event = {
        "event": "paid",
        "level": "warning",
        "logger": "shop",
        "timestamp": "2026-12-07T10:00:00.250000Z",
        "amount": 3,
    }
    record = record_from_event(event, "info")
    assert (record.getMessage(), record.levelno, record.name) == ("paid", logging.WARNING, "shop")
    assert record.created == 1796637600.25
    assert record.__dict__["amount"] == 3
    assert "level" not in record.__dict__
    assert "timestamp" not in record.__dict__
    assert event["level"] == "warning"


def test_keys_a_logrecord_owns_go_under_extra() -> None:
    """A field named like a LogRecord attribute is kept under extra.<name>; private keys are
    left out."""
    assert field_items({"name": "x", "module": "m", "_private": 1, "ok": 2}) == {
        "extra.name": "x",
        "extra.module": "m",
        "ok": 2,
    }


def test_unknown_levels_keep_their_name() -> None:
    """Levels logging does not know (TRACE) keep their name; warn/exception are mapped."""
    assert level_of("trace") == (logging.INFO, "TRACE")
    assert level_of("warn") == (logging.WARNING, "WARNING")
    assert level_of("exception") == (logging.ERROR, "ERROR")
    assert level_of(25) == (25, "Level 25")


def test_processor_formatter_record_is_copied_not_changed() -> None:
    """A record from structlog's stdlib route is adapted on a copy: other handlers (a
    ProcessorFormatter on the console) still get structlog's event dict."""
    record = logging.LogRecord("app", logging.INFO, __file__, 1, {"event": "hi", "k": 1}, (), None)
    record._logger = object()  # type: ignore[attr-defined]
    adapted = from_processor_formatter(record)
    assert adapted.getMessage() == "hi"
    assert adapted.__dict__["k"] == 1
    assert record.msg == {"event": "hi", "k": 1}
    assert "_logger" in record.__dict__
