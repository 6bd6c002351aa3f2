"""Making an encoded record fit the broker's message size limit, never rejecting it.

When the encoded record is larger than `limit` bytes, the longest of the message, the
stack traces and the error message are cut (message: head kept; stack traces: head and
tail kept, the tail holds the exception line), and `kafka_logging.truncated: true` with
`kafka_logging.original_size` is added. If that is not enough, fields that are not ECS
fields are removed (their names listed in `kafka_logging.removed_fields`); as a last resort
only the core ECS fields are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kafka_logging.wire.record import Record

MARK = "kafka_logging"
_CUT = " ...[truncated]... "
_ECS_TOP = frozenset(
    ["@timestamp", "log", "message", "ecs", "service", "host", "process", "event", "error",
     "trace", "span", MARK]
)  # fmt: skip
_CORE = ("@timestamp", "log", "message", "ecs", "service", "host", "process", "event", MARK)
_TEXT_FIELDS = (
    ("message",),
    ("error", "stack_trace"),
    ("log", "origin", "stack_trace"),
    ("error", "message"),
)


def fit(record: Record, encode: Callable[[Record], bytes], limit: int) -> bytes:
    """`encode(record)`, shrunk as described above when it is larger than `limit`."""
    value = encode(record)
    if len(value) <= limit:
        return value
    data = _copy_path_parents(record)
    data[MARK] = {"truncated": True, "original_size": len(value)}
    for _ in range(8):
        excess = len(value) - limit
        fields = [(len(text), path) for path in _TEXT_FIELDS if (text := _get(data, path))]
        if not fields:
            break
        size, path = max(fields)
        if size <= 256:
            break
        keep = max(128, size - excess - len(_CUT) - 64)
        _set(data, path, _shorten(_get(data, path) or "", keep, tail=path[-1] == "stack_trace"))
        value = encode(data)
        if len(value) <= limit:
            return value
    removed = sorted(k for k in data if k not in _ECS_TOP)
    for key in removed:
        del data[key]
    data[MARK]["removed_fields"] = removed
    value = encode(data)
    if len(value) <= limit:
        return value
    core = {k: data[k] for k in _CORE if k in data}
    core["message"] = _shorten(str(core.get("message", "")), max(0, limit // 4), tail=False)
    core[MARK]["removed_fields"] = sorted(k for k in data if k not in core)
    return encode(core)


def _copy_path_parents(record: Record) -> Record:
    data: Record = dict(record)
    for name in ("error", "log"):
        if isinstance(data.get(name), dict):
            data[name] = dict(data[name])
    log = data.get("log")
    if isinstance(log, dict) and isinstance(log.get("origin"), dict):
        log["origin"] = dict(log["origin"])
    return data


def _get(data: Record, path: tuple[str, ...]) -> str | None:
    node: Any = data
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node if isinstance(node, str) else None


def _set(data: Record, path: tuple[str, ...], value: str) -> None:
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _shorten(text: str, keep: int, tail: bool) -> str:
    if len(text) <= keep:
        return text
    if not tail:
        return text[:keep] + _CUT
    head = keep // 3
    return text[:head] + _CUT + text[len(text) - (keep - head) :]
