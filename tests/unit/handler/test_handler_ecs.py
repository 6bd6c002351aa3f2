"""The ECS record built from a LogRecord (kafka_logging.handler.ecs)."""

from __future__ import annotations

import datetime as dt
import logging
import re
import sys
from typing import Any

import pytest

from kafka_logging.handler.ecs import ATTR_SPAN, EcsFormatter
from kafka_logging.handler.redact import Redactor
from kafka_logging.wire.record import ECS_VERSION, decode_json


def make_record(msg: Any = "hello %s", args: Any = ("world",), **kwargs: Any) -> logging.LogRecord:
    extra = kwargs.pop("extra", None)
    exc_info = kwargs.pop("exc_info", None)
    logger = logging.getLogger("app.module")
    return logger.makeRecord(
        "app.module", logging.INFO, "/src/app/module.py", 42, msg, args, exc_info,
        func="handler", extra=extra, **kwargs,
    )  # fmt: skip


@pytest.fixture
def formatter() -> EcsFormatter:
    return EcsFormatter("checkout", "1.2.3", "prod", Redactor(), hostname="web-1")


def test_core_fields(formatter: EcsFormatter) -> None:
    """Every ECS field of a plain record has its documented name and value."""
    record = make_record()
    out = formatter.build(record)
    assert out["message"] == "hello world"
    assert out["log"]["level"] == "info"
    assert out["log"]["logger"] == "app.module"
    assert out["log"]["origin"] == {
        "file": {"name": "module.py", "line": 42},
        "function": "handler",
    }
    assert out["ecs"] == {"version": ECS_VERSION}
    assert out["service"] == {"name": "checkout", "version": "1.2.3", "environment": "prod"}
    assert out["host"] == {"hostname": "web-1"}
    assert out["process"]["pid"] == record.process
    assert out["process"]["name"] == record.processName
    assert out["process"]["thread"] == {"id": record.thread, "name": record.threadName}
    assert re.fullmatch(r"[0-9a-f]{32}", out["event"]["id"])
    assert "error" not in out
    assert "trace" not in out


def test_timestamp_is_utc_iso_with_microseconds(formatter: EcsFormatter) -> None:
    """@timestamp is ISO 8601 UTC with six fractional digits and a Z, matching `created`."""
    record = make_record()
    record.created = 1_795_000_000.123456
    text = formatter.build(record)["@timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", text)
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert abs(parsed.timestamp() - record.created) < 2e-6


def test_event_ids_are_unique(formatter: EcsFormatter) -> None:
    """Each record gets its own event.id."""
    ids = {formatter.build(make_record())["event"]["id"] for _ in range(1000)}
    assert len(ids) == 1000


def test_exception_with_chained_cause(formatter: EcsFormatter) -> None:
    """error.* holds the type, message and the full traceback including the cause."""
    try:
        try:
            {}["missing"]
        except KeyError as inner:
            raise RuntimeError("payment failed") from inner
    except RuntimeError:
        record = make_record("boom", (), exc_info=sys.exc_info())
    error = formatter.build(record)["error"]
    assert error["type"] == "RuntimeError"
    assert error["message"] == "payment failed"
    trace = error["stack_trace"]
    assert "KeyError: 'missing'" in trace
    assert "The above exception was the direct cause" in trace
    assert trace.endswith("RuntimeError: payment failed")


def test_exception_group(formatter: EcsFormatter) -> None:
    """Exception groups are rendered with every member exception."""
    try:
        raise ExceptionGroup("many", [ValueError("first"), TypeError("second")])
    except ExceptionGroup:
        record = make_record("boom", (), exc_info=sys.exc_info())
    error = formatter.build(record)["error"]
    assert error["type"] == "ExceptionGroup"
    assert "ValueError: first" in error["stack_trace"]
    assert "TypeError: second" in error["stack_trace"]


def test_error_type_is_qualified_outside_builtins(formatter: EcsFormatter) -> None:
    """A non-builtin exception type is named with its module."""
    try:
        raise OverflowError("too big")
    except OverflowError:
        builtin = formatter.build(make_record("x", (), exc_info=sys.exc_info()))
    try:
        raise re.error("bad")
    except re.error:
        qualified = formatter.build(make_record("x", (), exc_info=sys.exc_info()))
    assert builtin["error"]["type"] == "OverflowError"
    assert qualified["error"]["type"] == "re.error"


def test_extra_fields_nested_and_dotted(formatter: EcsFormatter) -> None:
    """extra= fields are kept, nested objects too, and dotted keys become nested."""
    record = make_record(extra={"order": {"id": 7, "items": [1, 2]}, "user.id": "u-1"})
    out = formatter.build(record)
    assert out["order"] == {"id": 7, "items": [1, 2]}
    assert out["user"] == {"id": "u-1"}


def test_extra_never_overwrites_ecs(formatter: EcsFormatter) -> None:
    """An extra= field colliding with an ECS field is kept under `extra`, ECS wins."""
    record = make_record(extra={"service": "evil", "log.level": "fake", "log.custom": 1})
    out = formatter.build(record)
    assert out["service"]["name"] == "checkout"
    assert out["log"]["level"] == "info"
    assert out["log"]["custom"] == 1
    assert out["extra"] == {"service": "evil", "log.level": "fake"}


def test_extra_objects_are_not_mutated(formatter: EcsFormatter) -> None:
    """Merging extras copies mappings: the caller's objects stay as they were."""
    mine = {"a": 1}
    formatter.build(make_record(extra={"ctx": mine, "ctx.b": 2}))
    assert mine == {"a": 1}


def test_non_json_values_are_rendered(formatter: EcsFormatter) -> None:
    """Values JSON cannot hold (objects, sets, bytes, big ints, broken __str__) never raise."""

    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    record = make_record(
        extra={"obj": object(), "tags": {"a"}, "raw": b"\xff\x00", "big": 2**80, "bad": Broken()}
    )
    out = decode_json(formatter.format(record).encode())
    assert out["obj"].startswith("<object object")
    assert out["tags"] == ["a"]
    assert out["big"] == str(2**80)
    assert out["bad"] == "<unrepresentable Broken>"
    assert isinstance(out["raw"], str)


def test_unicode_survives(formatter: EcsFormatter) -> None:
    """Non-ASCII text, emoji and lone surrogates give valid UTF-8 JSON."""
    record = make_record("grüße %s", ("🚀 日本",), extra={"path": "caf\udce9"})
    out = decode_json(formatter.format(record).encode())
    assert out["message"] == "grüße 🚀 日本"
    assert out["path"].startswith("caf")


def test_bad_format_args_keep_the_record(formatter: EcsFormatter) -> None:
    """A message whose args do not match its format string is still shipped, readably."""
    out = formatter.build(make_record("%d items", ("many",)))
    assert "%d items" in out["message"]
    assert "formatting failed" in out["message"]


def test_dict_message_becomes_fields(formatter: EcsFormatter) -> None:
    """logger.info({...}) puts the mapping's keys in the record (python-json-logger style)."""
    out = formatter.build(make_record({"event_name": "signup", "n": 3}, ()))
    assert out["event_name"] == "signup"
    assert out["n"] == 3
    assert out["message"] == ""


def test_span_ids_from_captured_span(formatter: EcsFormatter) -> None:
    """trace.id / span.id come from the span captured on the caller's thread, as hex."""
    record = make_record()
    record.__dict__[ATTR_SPAN] = (0x1234, 0xABCD)
    out = formatter.build(record)
    assert out["trace"] == {"id": f"{0x1234:032x}"}
    assert out["span"] == {"id": f"{0xABCD:016x}"}


def test_stack_info_is_kept(formatter: EcsFormatter) -> None:
    """stack_info=True text lands in log.origin.stack_trace."""
    record = make_record(sinfo="Stack (most recent call last):\n  File x")
    assert formatter.build(record)["log"]["origin"]["stack_trace"].startswith("Stack")


def test_redaction_by_key_and_pattern(formatter: EcsFormatter) -> None:
    """Secrets are redacted in extras (by key) and in text (by pattern) before serialising."""
    record = make_record(
        "login password=%s Authorization: Bearer abc.def",
        ("hunter2",),
        extra={"db": {"Password": "x", "user": "u"}, "api_key": "k", "note": "token=zzz ok"},
    )
    text = formatter.format(record)
    assert "hunter2" not in text
    assert "abc.def" not in text
    out = decode_json(text.encode())
    assert out["db"] == {"Password": "[REDACTED]", "user": "u"}
    assert out["api_key"] == "[REDACTED]"
    assert out["note"] == "token=[REDACTED] ok"


def test_formatter_works_standalone() -> None:
    """EcsFormatter is a normal logging.Formatter: one JSON object per format() call."""
    out = decode_json(EcsFormatter("svc").format(make_record()).encode())
    assert out["service"] == {"name": "svc"}


@pytest.mark.parametrize("redact", [True, False])
def test_extras_never_change_the_next_records_shared_parts(redact: bool) -> None:
    """Parts shared between records (host, service, log site, process) are copied before an
    `extra=` field merges into them: the next record of the same call site is untouched."""
    formatter = EcsFormatter("checkout", hostname="web-1", redactor=Redactor() if redact else None)
    first = formatter.build(
        make_record(extra={"host": {"ip": "10.0.0.1"}, "log.custom": 1, "service.team": "x"})
    )
    second = formatter.build(make_record())
    assert first["host"] == {"hostname": "web-1", "ip": "10.0.0.1"}
    assert first["log"]["custom"] == 1
    assert first["service"]["team"] == "x"
    assert second["host"] == {"hostname": "web-1"}
    assert "custom" not in second["log"]
    assert second["service"] == {"name": "checkout"}


def test_stack_info_does_not_stick_to_the_call_site(formatter: EcsFormatter) -> None:
    """A record with stack_info gets its stack trace; the next one from the same line does not."""
    with_stack = formatter.build(make_record(sinfo="Stack (most recent call last):\n  here"))
    plain = formatter.build(make_record())
    assert with_stack["log"]["origin"]["stack_trace"].endswith("here")
    assert "stack_trace" not in plain["log"]["origin"]


def test_extras_found_when_the_record_layout_is_unusual(formatter: EcsFormatter) -> None:
    """An own attribute deleted and set again (it moves behind the extras) hides no extra."""
    record = make_record(extra={"order": 7, "user": {"id": 3}})
    msg = record.msg
    del record.msg
    record.msg = msg
    record.late = "set by a filter"
    out = formatter.build(record)
    assert out["order"] == 7
    assert out["user"] == {"id": 3}
    assert out["late"] == "set by a filter"
    assert out["message"] == "hello world"


def test_event_ids_differ_after_a_pid_change(formatter: EcsFormatter) -> None:
    """A record from another process (a forked child) draws a new random id prefix."""
    parent = make_record()
    child = make_record()
    child.process = (parent.process or 0) + 1
    first = formatter.build(parent)["event"]["id"]
    second = formatter.build(child)["event"]["id"]
    assert first[:16] != second[:16]
    assert re.fullmatch(r"[0-9a-f]{32}", second)
