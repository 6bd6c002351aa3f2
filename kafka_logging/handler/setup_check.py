"""A look at the app's logging tree when a KafkaHandler is first used: says on stderr, once
per process, when the configuration would lose or double-ship records.

- Disabled loggers: dictConfig/fileConfig disable every existing logger they do not name
  unless `disable_existing_loggers` is False (uvicorn's `uvicorn.error`, the app's
  module-level loggers): their records go nowhere, not even to stderr.
- Double shipping: a logger whose records reach two KafkaHandlers for the same topic
  (e.g. one on `uvicorn.access` and one on the root logger it propagates to) ships each
  record twice, with two `event.id`s, so Elasticsearch keeps both.
- Dead ends: gunicorn's `gunicorn.error` / `gunicorn.access` do not propagate; configured
  with a level only, they have no handler at all and gunicorn's own lines are lost.

It only reads the tree (no locks taken, nothing changed) and never raises.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Mapping

__all__ = ["find_problems", "run_once"]

DEAD_END_LOGGERS = ("gunicorn.error", "gunicorn.access")
# Named first when disabled: where frameworks log requests and errors.
FRAMEWORK_LOGGERS = (
    "uvicorn.error", "uvicorn.access", "uvicorn", "gunicorn.error", "gunicorn.access",
    "django.request", "django", "flask.app", "werkzeug", "celery", "celery.app.trace",
)  # fmt: skip
_SHOWN = 12
_done = False


def run_once() -> None:
    """Check the tree now, unless this process (or the one it was forked from) already did."""
    global _done  # noqa: PLW0603 - once per process tree, by design
    if _done:
        return
    _done = True
    try:
        manager = logging.Logger.manager
        problems = find_problems(dict(manager.loggerDict), logging.getLogger())
    except Exception as exc:  # noqa: BLE001 - a diagnostic must never break logging
        problems = [f"could not check the logging setup: {type(exc).__name__}: {exc}"]
    for problem in problems:
        _say(problem)


def _say(text: str) -> None:
    try:
        os.write(2, f"kafka-logging: {text}\n".encode("utf-8", "replace"))
    except OSError:
        return


def find_problems(
    loggers: Mapping[str, logging.Logger | logging.PlaceHolder], root: logging.Logger
) -> list[str]:
    """What in this logging tree loses or duplicates records, one sentence per problem."""
    real = {name: lg for name, lg in loggers.items() if isinstance(lg, logging.Logger)}
    problems: list[str] = []
    disabled = sorted((name for name, lg in real.items() if lg.disabled), key=_importance)
    if disabled:
        problems.append(
            f"{len(disabled)} logger(s) are disabled, so their records go nowhere (not to Kafka,"
            f" not to stderr): {_names(disabled)}. dictConfig and fileConfig disable every"
            " existing logger they do not name unless disable_existing_loggers is False"
            " (kafka_logging.logging_config() sets it)."
        )
    for name, logger in sorted(real.items()):
        if not any(_is_kafka(h) for h in logger.handlers):
            continue
        problems.extend(_duplicates(name, _path(logger)))
    if any(_is_kafka(h) for h in root.handlers):
        for name in DEAD_END_LOGGERS:
            dead = real.get(name)
            if dead is not None and not dead.disabled and not _reaches_handler(dead):
                problems.append(
                    f"logger {name!r} has no handler and does not propagate: its records"
                    " go nowhere. Name the Kafka handler on it (kafka_logging.logging_config()"
                    " does)."
                )
    return problems


def _importance(name: str) -> tuple[int, str]:
    """Framework loggers first, then the app's and libraries', the standard library's last."""
    if name in FRAMEWORK_LOGGERS:
        return (0, f"{FRAMEWORK_LOGGERS.index(name):03d}")
    return (2 if name.split(".", maxsplit=1)[0] in sys.stdlib_module_names else 1, name)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" (+{len(names) - _SHOWN} more)" if len(names) > _SHOWN else "")


def _path(logger: logging.Logger) -> list[logging.Logger]:
    """The loggers whose handlers see a record of `logger`, as Logger.callHandlers walks."""
    path: list[logging.Logger] = []
    current: logging.Logger | None = logger
    while current is not None:
        path.append(current)
        if not current.propagate:
            break
        current = current.parent
    return path


def _reaches_handler(logger: logging.Logger) -> bool:
    return any(lg.handlers for lg in _path(logger))


def _duplicates(name: str, path: Iterable[logging.Logger]) -> list[str]:
    seen: dict[tuple[str, str], list[str]] = {}
    for logger in path:
        for handler in logger.handlers:
            if _is_kafka(handler):
                options = handler.options  # type: ignore[attr-defined]
                where = "the root logger" if logger.name == "root" else repr(logger.name)
                seen.setdefault((options.bootstrap_servers, options.topic), []).append(where)
    return [
        f"records of logger {name!r} reach {len(places)} KafkaHandlers for topic {topic!r}"
        f" (on {', '.join(places)}): each record is shipped {len(places)} times with"
        " different event.ids. Keep the handler on one logger (the root logger), or set"
        " propagate: False where it is attached."
        for (_, topic), places in seen.items()
        if len(places) > 1
    ]


def _is_kafka(handler: logging.Handler) -> bool:
    from kafka_logging.handler.handler import KafkaHandler  # noqa: PLC0415 - no import cycle

    return isinstance(handler, KafkaHandler)
