"""Why a Kafka client cannot talk to the cluster, in words an operator can act on.

librdkafka reports the cause of a failed connection (bad credentials, TLS against plaintext,
refused connection) only through `error_cb` and its log; a metadata request merely says
"transport failure". Give a client `**collector.client_config()`, serve its callbacks with
`poll(0)` after a failure, and ask the collector to explain.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

_MOST_SPECIFIC_FIRST = (
    "_AUTHENTICATION",
    "_SSL",
    "_INVALID_ARG",
    "_RESOLVE",
    "_TRANSPORT",
    "_ALL_BROKERS_DOWN",
)
_LOG_HINTS = ("security.protocol", "SASL", "SSL")


class _Sink(logging.Handler):
    def __init__(self, collector: ErrorCollector) -> None:
        super().__init__()
        self._collector = collector

    def emit(self, record: logging.LogRecord) -> None:
        self._collector.log(record.getMessage())


class ErrorCollector:
    """An `error_cb` and log sink that keep the latest error of each kind (thread safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, str] = {}
        self._hint: str | None = None
        # A private Logger, not registered with logging: client logs never reach the app's
        # handlers (and so never come back through ours).
        self._logger = logging.Logger("kafka-logging.diag", logging.DEBUG)
        self._logger.addHandler(_Sink(self))

    def client_config(self) -> dict[str, Any]:
        """Config entries that route this client's errors and warnings here."""
        return {"error_cb": self, "logger": self._logger, "log_level": 7}

    def __call__(self, error: Any) -> None:
        with self._lock:
            self._latest[str(error.name())] = str(error.str())

    def log(self, message: str) -> None:
        hint = None
        if "Disconnected" in message and "state APIVERSION_QUERY" in message:
            # The broker hung up on the very first request: it expected TLS or SASL first.
            broker = message.rsplit("]: ", 1)[-1].split(": ", 1)[0]
            hint = (
                f"{broker}: the broker closed the connection before answering "
                "the first request; it is most likely a TLS or SASL listener and the client's "
                "security.protocol does not match it"
            )
        elif any(h in message for h in _LOG_HINTS):
            hint = message
        if hint is not None:
            with self._lock:
                self._hint = hint

    def explain(self, fallback: str) -> str:
        """The most specific problem seen, else `fallback`."""
        with self._lock:
            for name in _MOST_SPECIFIC_FIRST[:3]:
                if name in self._latest:
                    return self._latest[name]
            if self._hint is not None:
                return self._hint
            for name in _MOST_SPECIFIC_FIRST[3:]:
                if name in self._latest:
                    return self._latest[name]
            return next(iter(self._latest.values()), fallback)


_VOLATILE = re.compile(r"\(after \d+ms[^)]*\)|#(?:producer|consumer)-\d+|\d+/\d+ brokers")


class _OncePerInterval(logging.Filter):
    """Lets each distinct client line through at most once per `interval` seconds."""

    def __init__(self, interval: float, clock: Callable[[], float]) -> None:
        super().__init__()
        self._interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = _VOLATILE.sub("", record.getMessage())
        now = self._clock()
        with self._lock:
            if now - self._last.get(key, -self._interval) < self._interval:
                return False
            if len(self._last) > 1000:
                self._last.clear()
            self._last[key] = now
        return True


def client_logger(
    name: str, interval: float = 30.0, clock: Callable[[], float] = time.monotonic
) -> logging.Logger:
    """A logger for librdkafka's own lines (the client's `logger` setting): they go through the
    daemon's logging, each distinct problem at most once per `interval`, instead of the raw
    `%3|...|FAIL|` line on stderr several times a second."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, _OncePerInterval) for f in logger.filters):
        logger.addFilter(_OncePerInterval(interval, clock))
    return logger
