"""Records from other logging libraries, made into the LogRecords the handler ships.

structlog and loguru hand over an event (a dict, or loguru's record); the adapters
(structlog_adapter.py, loguru_sink.py) turn it into an ordinary `logging.LogRecord` before
the handler sees it, so the ECS builder (ecs.py) stays the one path for every record:
the message is the user's message, key/values become fields exactly like `extra=` values,
the level, logger name, time, call site and exception fill the LogRecord's own attributes
(and so the ECS fields), never a second copy beside them.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from types import FrameType, TracebackType
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
_LEVELS = logging.getLevelNamesMapping()
# Names a field cannot take on a LogRecord: its own attributes and what formatters add.
_TAKEN = frozenset(
    [
        *logging.LogRecord("", logging.INFO, "", 0, "", None, None).__dict__,
        *RESERVED_ATTRS,
        "message",
        "asctime",
        "taskName",
    ]
)


def level_of(name: object, default: int = logging.INFO) -> tuple[int, str]:
    """(levelno, LEVELNAME) for a level name or number; an unknown name keeps its own
    name (e.g. TRACE) at `default`'s number."""
    if isinstance(name, int):
        return name, logging.getLevelName(name)
    text = str(name).upper()
    if text == "WARN":
        text = "WARNING"
    elif text == "EXCEPTION":
        text = "ERROR"
    return _LEVELS.get(text, default), text


def exc_info_of(value: object) -> ExcInfo | None:
    """An `exc_info=` value (True, an exception, or a sys.exc_info() tuple) resolved on the
    caller's thread, or None."""
    if value is True:
        current = sys.exc_info()
        return current if current[0] is not None else None
    if isinstance(value, BaseException):
        return type(value), value, value.__traceback__
    if isinstance(value, tuple) and len(value) == 3 and value[0] is not None:
        return value
    return None


def field_items(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Key/values as `extra=` fields. A key that names one of the LogRecord's own attributes
    (`name`, `module`, `message`, ...) becomes `extra.<key>` (where the ECS builder keeps
    values that conflict with an ECS field); private (`_x`) keys are left out."""
    return {
        (f"extra.{key}" if key in _TAKEN else key): value
        for key, value in fields.items()
        if type(key) is str and key[:1] != "_"
    }


def set_fields(record: logging.LogRecord, fields: Mapping[str, Any]) -> None:
    """`field_items(fields)` set on `record`, as `extra=` would."""
    record.__dict__.update(field_items(fields))


def new_record(
    name: str,
    level: tuple[int, str],
    message: object,
    args: Any = None,
    exc_info: ExcInfo | None = None,
    site: tuple[str, int, str] | None = None,
    stack: str | None = None,
) -> logging.LogRecord:
    """A LogRecord made as `logging.Logger.makeRecord` would (time, process, thread on
    this thread), at `site` (path, line, function), with its level name kept as given."""
    path, line, function = site if site is not None else ("", 0, "")
    record = logging.LogRecord(
        name, level[0], path, line, message, args, exc_info, function, stack
    )  # fmt: skip
    record.levelname = level[1]
    return record


def caller_site(skip_prefixes: tuple[str, ...]) -> tuple[tuple[str, int, str], FrameType | None]:
    """(path, line, function) of the first frame outside `skip_prefixes` (module names), and
    that frame."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not (module.startswith(skip_prefixes) or module == "logging"):
            code = frame.f_code
            return (code.co_filename, frame.f_lineno, code.co_name), frame
        frame = frame.f_back
    return ("", 0, ""), None
