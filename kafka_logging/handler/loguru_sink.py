"""loguru -> KafkaHandler: `logger.add(handler)` ships what the user logged, not loguru's line.

loguru hands a sink that has a `write` method each message as a `str` that carries the whole
loguru record (`message.record`); `KafkaHandler.write` takes that record, not the formatted
line (a plain `logging.Handler` would get loguru's formatted line as the message and
`exc_text="\\n"` in place of the traceback). From the record: `message` is the user's
message (its arguments applied by loguru), `extra` (bind(), contextualize(), patch()) are
fields exactly where `extra=` values go, the level keeps its name and number (TRACE 5,
SUCCESS 25, custom levels too), the time, module, file, line, function, process and thread
are loguru's, and an exception gives `error.type`, `error.message` and the full
`error.stack_trace`. loguru itself is never imported here.
"""

from __future__ import annotations

import logging
from typing import Any

from kafka_logging.handler.adapt import new_record, set_fields


def record_from_loguru(record: Any) -> logging.LogRecord:
    """The LogRecord for a loguru record dict (`message.record` in a sink)."""
    level = record["level"]
    exception = record["exception"]
    exc_info = None
    if exception is not None and exception.type is not None:
        exc_info = (exception.type, exception.value, exception.traceback)
    file = record["file"]
    made = new_record(
        record["name"] or "loguru",
        (level.no, level.name),
        record["message"],
        None,
        exc_info,
        (file.path, record["line"], record["function"]),
    )
    created = record["time"].timestamp()
    made.created = created
    made.msecs = (created - int(created)) * 1000
    made.module = record["module"]
    made.process, made.processName = record["process"].id, record["process"].name
    made.thread, made.threadName = record["thread"].id, record["thread"].name
    set_fields(made, record["extra"])
    return made
