"""structlog -> KafkaHandler, by either of structlog's routes.

Native (structlog's own loggers): `StructlogProcessor(handler)` in the processor chain hands
each event dict to the handler as a LogRecord, then passes the dict on unchanged (to a console
renderer, say), or ends the chain with `drop=True`:

    structlog.configure(processors=[
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
        kafka_logging.StructlogProcessor(handler),
        structlog.dev.ConsoleRenderer(),
    ])

Through the standard library: with `structlog.stdlib.ProcessorFormatter.wrap_for_formatter`
as the last processor (structlog's recommended stdlib setup) records reach the handler with
the event dict in `record.msg`; the handler recognises them and adapts them itself (any
formatter set on the KafkaHandler is not used, as for every record). With
`render_to_log_kwargs`, use this module's `render_to_log_kwargs` in place of structlog's.

Either way: `event` is the `message` (positional arguments applied as logging does), the other
key/values are fields, exactly where `extra=` values go; `level` (add_log_level), `logger`
(add_logger_name), `timestamp` (TimeStamper: ISO 8601 or a number; a naive ISO time is read as
local time) and the call site (CallsiteParameterAdder) fill `log.level`, `log.logger`,
`@timestamp`, `log.origin.*`, `process.*` and are not repeated as fields; `exc_info` (True, an
exception or a tuple, resolved on the caller's thread) gives `error.type`, `error.message` and
the full `error.stack_trace`. Leave exceptions as `exc_info` up to this point: an `exception`
text already rendered by `format_exc_info` is still shipped as `error.stack_trace`, with
`error.type`/`error.message` read from its last line. `stack_info=True` / StackInfoRenderer's
`stack` give `log.origin.stack_trace`.

This module imports structlog only for `drop=True` (structlog.DropEvent).
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import MutableMapping
from datetime import datetime
from types import FrameType
from typing import Any

from kafka_logging.handler.adapt import (
    caller_site,
    exc_info_of,
    field_items,
    level_of,
    new_record,
    set_fields,
)
from kafka_logging.handler.ecs import render_message

EventDict = MutableMapping[str, Any]
_SKIP = ("structlog", "kafka_logging")
# CallsiteParameterAdder keys: the LogRecord (so the ECS record) has them already.
_CALLSITE = ("pathname", "filename", "module", "func_name", "lineno")
_IDENTITY = ("thread", "thread_name", "process", "process_name")
_FORMATTER_META = ("_record", "_from_structlog")


class StructlogProcessor:
    """A structlog processor that ships each event to `handler` (a KafkaHandler)."""

    def __init__(
        self, handler: logging.Handler, *, drop: bool = False, logger_name: str = "structlog"
    ) -> None:
        self.handler = handler
        self.drop = drop
        self.logger_name = logger_name

    def __call__(self, logger: Any, method_name: str, event_dict: EventDict) -> EventDict:
        record = record_from_event(event_dict, method_name, logger, self.logger_name)
        if record.levelno >= self.handler.level:
            self.handler.handle(record)
        if self.drop:
            import structlog  # noqa: PLC0415 - only who asks for drop=True has structlog loaded

            raise structlog.DropEvent
        return event_dict


def record_from_event(
    event_dict: EventDict, method_name: str, logger: Any = None, default_name: str = "structlog"
) -> logging.LogRecord:
    """The LogRecord for a structlog event dict (the dict is not changed)."""
    fields = dict(event_dict)
    level = level_of(fields.pop("level", method_name))
    name = fields.pop("logger", None) or getattr(logger, "name", None) or default_name
    site, frame = _site(fields)
    exc_info, stack = _exception_and_stack(fields, frame)
    message = fields.pop("event", "")
    args = fields.pop("positional_args", None) or None
    record = new_record(str(name), level, message, args, exc_info, site, stack)
    _set_time(record, fields)
    set_fields(record, fields)
    return record


def from_processor_formatter(record: logging.LogRecord) -> logging.LogRecord:
    """A record made by structlog's stdlib route (`wrap_for_formatter`: the event dict in
    `record.msg`) as an ordinary one: a copy, so other handlers still see structlog's."""
    fields = dict(record.msg)  # type: ignore[arg-type]
    adapted = object.__new__(type(record))
    attrs = adapted.__dict__
    attrs.update(record.__dict__)
    del attrs["_logger"]
    attrs.pop("_name", None)
    for key in _FORMATTER_META:
        fields.pop(key, None)
    fields.pop("level", None)  # the record's own level is the method's
    fields.pop("timestamp", None)  # made microseconds apart from the record's own time
    name = fields.pop("logger", None)
    if name:
        adapted.name = str(name)
    frame = None
    if f"{os.sep}structlog{os.sep}" in adapted.pathname:  # a logger structlog did not make
        (path, line, function), frame = caller_site(_SKIP)
        adapted.pathname, adapted.lineno, adapted.funcName = path, line, function
        adapted.filename = os.path.basename(path)
        adapted.module = os.path.splitext(adapted.filename)[0]
    exc_info, stack = _exception_and_stack(fields, frame)
    adapted.exc_info = exc_info or record.exc_info
    adapted.exc_text = None
    if stack is not None:
        adapted.stack_info = stack
    adapted.msg = fields.pop("event", "")
    adapted.args = tuple(fields.pop("positional_args", ())) or None
    for key in (*_CALLSITE, *_IDENTITY):
        fields.pop(key, None)
    set_fields(adapted, fields)
    return adapted


def render_to_log_kwargs(logger: Any, method_name: str, event_dict: EventDict) -> dict[str, Any]:
    """structlog's `render_to_log_kwargs`, for this handler: `event` (with its positional
    arguments applied) is the message, level/logger/timestamp are left to the LogRecord
    (no second copy as fields), keys a LogRecord cannot take go under `extra.<key>`."""
    fields = dict(event_dict)
    message = fields.pop("event", "")
    args = fields.pop("positional_args", None)
    if args:
        made = logging.LogRecord("", logging.INFO, "", 0, message, tuple(args), None)
        message = render_message(made)
    for key in ("level", "logger", "timestamp", *_CALLSITE, *_IDENTITY):
        fields.pop(key, None)
    kwargs: dict[str, Any] = {
        name: fields.pop(name)
        for name in ("exc_info", "stack_info", "stacklevel")
        if name in fields
    }
    if getattr(type(logger), "findCaller", None) is logging.Logger.findCaller:
        # a plain Logger (made before structlog's LoggerFactory) would name structlog's
        # frame as the call site: skip structlog's frames between the user and logging
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + _structlog_frames()
    kwargs["msg"] = message
    kwargs["extra"] = field_items(fields)
    return kwargs


def _structlog_frames() -> int:
    """structlog's frames between the user's call and the one that calls logging (all of
    them above this processor's caller, `_process_event`, which is not on that path)."""
    frame = sys._getframe(2)  # _process_event's caller, the frame that calls logging
    count = 0
    while frame is not None and frame.f_globals.get("__name__", "").startswith("structlog"):
        count += 1
        frame = frame.f_back  # type: ignore[assignment]
    return max(0, count - 1)


def _site(fields: dict[str, Any]) -> tuple[tuple[str, int, str], FrameType | None]:
    """The call site: CallsiteParameterAdder's keys when present, else the first frame
    outside structlog and kafka_logging."""
    site, frame = caller_site(_SKIP)
    path = fields.pop("pathname", None)
    line = fields.pop("lineno", None)
    function = fields.pop("func_name", None)
    for key in ("filename", "module", *_IDENTITY):
        fields.pop(key, None)
    if path is not None and line is not None:
        site = (str(path), int(line), str(function or ""))
    return site, frame


def _exception_and_stack(fields: dict[str, Any], frame: FrameType | None) -> tuple[Any, str | None]:
    exc_info = exc_info_of(fields.pop("exc_info", None))
    rendered = fields.get("exception")
    if exc_info is None and isinstance(rendered, str) and rendered.strip():
        del fields["exception"]
        last = rendered.rstrip().splitlines()[-1]
        kind, _, text = last.partition(": ")
        fields["error.type"], fields["error.message"] = kind, text
        fields["error.stack_trace"] = rendered.rstrip("\n")
    stack = fields.pop("stack", None)
    if fields.pop("stack_info", False) and stack is None:
        where = frame if frame is not None else caller_site(_SKIP)[1]
        stack = "Stack (most recent call last):\n" + "".join(traceback.format_stack(where))
    return exc_info, (str(stack).rstrip("\n") if stack is not None else None)


def _set_time(record: logging.LogRecord, fields: dict[str, Any]) -> None:
    value = fields.get("timestamp")
    created: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        created = float(value)
    elif isinstance(value, str):
        try:
            created = datetime.fromisoformat(value).timestamp()
        except ValueError:
            created = None
    if created is not None:
        del fields["timestamp"]
        record.created = created
        record.msecs = (created - int(created)) * 1000
