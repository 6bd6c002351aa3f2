"""LogRecord -> ECS 8.x record, through python-json-logger's formatter machinery.

`EcsFormatter` is a `pythonjsonlogger` formatter: `add_fields` fills the ECS table,
`merge_record_extra` collects `extra=` fields, and serialisation (`jsonify_log_record`)
is `kafka_logging.wire.record.encode_json` (orjson). It is usable on its own with any handler
(`format()` gives one JSON line); the KafkaHandler's worker calls `build()` for the dict.

Fields: `@timestamp` (UTC, microseconds), `log.level` (lower case), `log.logger`, `message`,
`ecs.version`, `service.name|version|environment`, `host.hostname`, `process.pid|name`,
`process.thread.id|name`, `log.origin.file.name|line`, `log.origin.function`, `error.type`,
`error.message`, `error.stack_trace` (full traceback text: chained causes and exception
groups included), `log.origin.stack_trace` (for `stack_info=True`), `trace.id` / `span.id`
(captured on the caller's thread by the handler), `event.id` (unique: 64 random bits per
process and a counter).

`extra=` fields are kept, nested objects too; a dotted key (`"user.id"`) becomes nested.
They never overwrite an ECS field: a conflicting value is kept under `extra` by its dotted
path instead (`{"extra": {"log.level": ...}}`). Values JSON cannot hold are rendered as
strings at serialisation (never an exception).
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import time
import traceback
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS, BaseJsonFormatter, merge_record_extra

from kafka_logging.handler.redact import Redactor
from kafka_logging.speedups import native
from kafka_logging.wire.record import ECS_VERSION, Record, encode_json

# Attributes the handler stores on a LogRecord (underscore: python-json-logger skips them).
ATTR_MESSAGE = "_kl_msg"
ATTR_SPAN = "_kl_span"

_RESERVED = frozenset([*RESERVED_ATTRS, "taskName", "message", "asctime"])
# The attributes LogRecord.__init__ sets, in every Python version we run on.
_INIT_ATTRS = frozenset(logging.LogRecord("", logging.INFO, "", 0, "", None, None).__dict__)
_CACHE_LIMIT = 4096  # call sites / threads remembered; the cache starts over beyond that

# (value, event id) of a record, or None when the Python path must encode it.
FastJson = Callable[[logging.LogRecord], tuple[bytes, str] | None]


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not lose the record
        return f"<unprintable {type(value).__name__}>"


def render_message(record: logging.LogRecord) -> str:
    """`record.getMessage()`, or a readable text when msg % args fails (never raises)."""
    try:
        return record.getMessage()
    except Exception as exc:  # noqa: BLE001 - a bad format string must not lose the record
        return (
            f"{_safe_str(record.msg)} (message formatting failed: {type(exc).__name__}: "
            f"{_safe_str(exc)}; args: {_safe_str(record.args)})"
        )


def error_type(exc_type: type[BaseException]) -> str:
    module = getattr(exc_type, "__module__", "builtins")
    name = getattr(exc_type, "__qualname__", exc_type.__name__)
    return name if module in ("builtins", "__main__") else f"{module}.{name}"


class EcsFormatter(BaseJsonFormatter):
    """python-json-logger formatter producing nested ECS records, serialised by orjson."""

    def __init__(
        self,
        service_name: str | None = None,
        service_version: str | None = None,
        environment: str | None = None,
        redactor: Redactor | None = None,
        hostname: str | None = None,
    ) -> None:
        super().__init__(reserved_attrs=sorted(_RESERVED))
        self.service: dict[str, str] = {}
        if service_name:
            self.service["name"] = service_name
        if service_version:
            self.service["version"] = service_version
        if environment:
            self.service["environment"] = environment
        self.hostname = hostname or socket.gethostname()
        self._service = dict(self.service) if self.service else None
        self._ecs = {"version": ECS_VERSION}
        self._host = {"hostname": self.hostname}
        self._sites: dict[tuple[str, str, str, int, str | None], dict[str, Any]] = {}
        self._processes: dict[Any, dict[str, Any]] = {}
        # A LogRecord with nothing added has exactly LogRecord's own attributes.
        self._plain = len(_INIT_ATTRS)
        self.redactor = redactor
        self._second = -1
        self._second_text = ""
        self._pid: int | None = -1
        self._id_base = 0
        self._id_counter = itertools.count()
        self.fast_json = self.compiled_encoder(native) if native is not None else None

    def compiled_encoder(self, module: ModuleType) -> FastJson | None:
        """The compiled twin of `encode_json(self.build(record))` (kafka_logging.speedups):
        the same bytes for the records it knows (no extra= fields, no dict message, valid
        Unicode), None for the others (tests/unit/speedups/test_ecs.py). It calls this
        formatter's render_message, redactor, error_fields and event-id state, so each of
        those has one implementation. None when the static fields are not valid Unicode."""
        try:
            ecs_host = encode_json({"ecs": self._ecs, "host": self._host})
            service = encode_json({"service": self._service}) if self._service else b""
            self.hostname.encode("utf-8")
            for value in self.service.values():
                value.encode("utf-8")
        except UnicodeEncodeError:
            return None
        redactor = self.redactor
        encoder = module.EcsEncoder(
            self,
            render_message,
            redactor.text if redactor is not None and redactor.patterns else None,
            redactor is not None and redactor.defaults,
            redactor,
            b"," + ecs_host[1:-1],
            b"," + service[1:-1] if service else b"",
            len(_INIT_ATTRS),
        )
        fast: FastJson = encoder.encode
        return fast

    def _new_id_prefix(self, pid: int) -> None:
        """Event ids are 64 random bits drawn once per process (again after fork: the pid
        changes) followed by a 64-bit counter: unique without 16 random bytes a record."""
        self._id_base = int.from_bytes(os.urandom(8)) << 64
        self._id_counter = itertools.count()
        self._pid = pid

    # -- python-json-logger hooks ------------------------------------------------------
    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        return encode_json(log_data).decode("utf-8")

    def format(self, record: logging.LogRecord) -> str:
        return self.jsonify_log_record(self.build(record))

    def build(self, record: logging.LogRecord) -> Record:
        """The ECS record (a fresh dict) for a LogRecord. Never raises for bad input."""
        message_dict: dict[str, Any] = {}
        if isinstance(record.msg, dict):
            message_dict = dict(record.msg)
        log_data: Record = {}
        self.add_fields(log_data, record, message_dict)
        return self.process_log_record(log_data)

    def add_fields(  # noqa: PLR0912, PLR0915 - one straight pass, run for every record
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        attrs = record.__dict__
        redactor = self.redactor

        message: str = ""
        rendered = attrs.get(ATTR_MESSAGE)
        if not message_dict:
            message = rendered if type(rendered) is str else render_message(record)
        if redactor is not None and redactor.patterns:
            message = redactor.text(message)

        created = record.created
        second = int(created)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        # The parts that repeat from record to record are built once and shared (they are
        # never mutated: merge_extras and fit copy before they change anything).
        site = (record.name, record.levelname, record.filename, record.lineno, record.funcName)
        log = self._sites.get(site)
        if log is None:
            log = self._site(site)
        pid = record.process
        proc = (pid, record.processName, record.thread, record.threadName)
        process = self._processes.get(proc)
        if process is None:
            process = self._process(proc)
        if pid is None:  # logging.logProcesses is off
            pid = os.getpid()
        if pid != self._pid:
            self._new_id_prefix(pid)
        log_data["@timestamp"] = "%s.%06dZ" % (self._second_text, (created - second) * 1e6)  # noqa: UP031 - twice as fast as an f-string here
        log_data["log"] = log
        log_data["message"] = message
        log_data["ecs"] = self._ecs
        log_data["host"] = self._host
        log_data["process"] = process
        log_data["event"] = {"id": "%032x" % (self._id_base + next(self._id_counter))}
        if self._service is not None:
            log_data["service"] = self._service

        exc_info = record.exc_info
        if exc_info and exc_info[0] is not None:
            log_data["error"] = self.error_fields(record, exc_info, redactor)
        if record.stack_info:
            origin = {**log["origin"], "stack_trace": record.stack_info}
            log_data["log"] = {**log, "origin": origin}

        span = attrs.get(ATTR_SPAN)
        if span is not None:
            log_data["trace"] = {"id": format(span[0], "032x")}
            log_data["span"] = {"id": format(span[1], "016x")}

        if message_dict:
            extras = self.extras(record, message_dict)
            if redactor is not None:
                merge_extras(log_data, redactor.value(extras), copied=True)
            else:
                merge_extras(log_data, extras)
        elif len(attrs) > self._plain + (rendered is not None) + (span is not None):
            self._add_extras(log_data, attrs, redactor)

    def _add_extras(
        self, log_data: dict[str, Any], attrs: dict[str, Any], redactor: Redactor | None
    ) -> None:
        """`extra=` fields into the record in one pass: redacted, and merged without touching
        an ECS field (a dotted name or a name the record already has takes the careful way)."""
        careful: dict[str, Any] = {}
        for name in self.extra_names(attrs):
            value = attrs[name]
            if redactor is not None:
                value = redactor.entry(name, value)
            elif type(value) is not str and isinstance(value, Mapping):
                value = _own(value)
            if name in log_data or "." in name:
                careful[name] = value
            else:
                log_data[name] = value
        if careful:
            merge_extras(log_data, careful, copied=True)

    def _site(self, site: tuple[str, str, str, int, str | None]) -> dict[str, Any]:
        name, levelname, filename, lineno, function = site
        level = str(levelname).lower()
        log = {
            "level": level,
            "logger": name,
            "origin": {"file": {"name": filename, "line": lineno}, "function": function},
        }
        if len(self._sites) >= _CACHE_LIMIT:
            self._sites.clear()
        self._sites[site] = log
        return log

    def _process(self, proc: tuple[int | None, str | None, int | None, str | None]) -> Any:
        pid, name, thread, thread_name = proc
        process = {"pid": pid, "name": name, "thread": {"id": thread, "name": thread_name}}
        if len(self._processes) >= _CACHE_LIMIT:
            self._processes.clear()
        self._processes[proc] = process
        return process

    def extras(self, record: logging.LogRecord, message_dict: dict[str, Any]) -> dict[str, Any]:
        """python-json-logger's `merge_record_extra`: the `extra=` fields (and attributes set
        on the record after it was made), merged over `message_dict`."""
        if message_dict:
            return merge_record_extra(record, message_dict, reserved=self._skip_fields)
        attrs = record.__dict__
        return {k: attrs[k] for k in self.extra_names(attrs)}

    def extra_names(self, attrs: dict[str, Any]) -> list[str]:
        """Names of a record's attributes that are neither LogRecord's own, reserved, nor
        private (underscore), in order. They follow LogRecord's own attributes in
        `__dict__`, so the walk goes backwards and stops at the first of those; a record
        whose layout is unusual (an own attribute deleted or re-added) gets a full pass."""
        skip = self._skip_fields
        found: list[str] = []
        seen = 0
        for name in reversed(attrs):
            if name in _INIT_ATTRS:
                break
            seen += 1
            if name not in skip and not (type(name) is str and name[:1] == "_"):
                found.append(name)
        if len(attrs) - seen != len(_INIT_ATTRS):
            names = attrs.keys() - skip
            return [k for k in attrs if k in names and not (type(k) is str and k[:1] == "_")]
        found.reverse()
        return found

    def error_fields(
        self, record: logging.LogRecord, exc_info: Any, redactor: Redactor | None
    ) -> dict[str, str]:
        exc_type, exc, tb = exc_info
        try:
            stack = record.exc_text or "".join(traceback.format_exception(exc_type, exc, tb))
        except Exception as failure:  # noqa: BLE001 - a broken exception must not lose the record
            stack = f"<traceback could not be formatted: {_safe_str(failure)}>"
        text = _safe_str(exc)
        if redactor is not None and redactor.patterns:
            text = redactor.text(text)
            stack = redactor.text(stack)
        return {"type": error_type(exc_type), "message": text, "stack_trace": stack.rstrip("\n")}

    def timestamp_text(self, created: float) -> str:
        """ISO 8601 UTC with microseconds; the date part is formatted once per second."""
        second = int(created)
        micros = min(int((created - second) * 1_000_000), 999_999)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._second_text}.{micros:06d}Z"


def merge_extras(target: dict[str, Any], extras: Mapping[Any, Any], copied: bool = False) -> None:
    """Merge `extra=` fields into an ECS record without overwriting any ECS field.

    Mappings are copied first (so merging never mutates the caller's objects) unless
    `copied` says they already are (the redactor rebuilds every container)."""
    conflicts: dict[str, Any] = {}
    for name, given in extras.items():
        key, value = name, given
        if isinstance(name, str) and "." in name and name != "@timestamp":
            parts = name.split(".")
            for part in reversed(parts[1:]):
                value = {part: value}
            key = parts[0]
        if copied:
            if key not in target:
                target[key] = value
                continue
        elif type(value) is dict or isinstance(value, Mapping):
            value = _own(value)
        _merge(target, key, value, str(key), conflicts)
    if conflicts:
        existing = target.get("extra")
        if isinstance(existing, dict):
            for k, v in conflicts.items():
                existing.setdefault(k, v)
        elif "extra" not in target:
            target["extra"] = conflicts
        else:
            target["extra"] = {"extra": existing, **conflicts}


def _merge(
    target: dict[Any, Any], key: Any, value: Any, path: str, conflicts: dict[str, Any]
) -> None:
    if key not in target:
        target[key] = value
        return
    existing = target[key]
    if type(existing) is dict and isinstance(value, Mapping):
        existing = target[key] = dict(existing)  # copy on write: ECS parts are shared
        for k, v in value.items():
            _merge(existing, k, v, f"{path}.{k}", conflicts)
        return
    conflicts[path] = value


def _own(value: Any) -> Any:
    """Copy mappings (not leaves) so later merges never mutate the caller's objects."""
    if type(value) is dict or isinstance(value, Mapping):
        return {k: _own(v) for k, v in value.items()}
    return value
