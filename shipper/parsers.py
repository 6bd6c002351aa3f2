"""Parsers: a line's text -> fields merged into the record. Built once per input.

A parser returns (fields, flags). `fields` are nested ECS-style objects (or None for plain
text); a "message" field replaces the message, an "@timestamp" field the read time. A line a
parser cannot read is shipped as text with the flag "parse_error" and `error.message`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from shipper.config import ParserConfig

Fields = dict[str, Any]
Parser = Callable[[str], tuple[Fields | None, tuple[str, ...]]]


def nest(flat: dict[str, Any], sep: str = ".") -> Fields:
    """{"log.level": "x", "a": {"b": 1}} -> {"log": {"level": "x"}, "a": {"b": 1}}."""
    dotted = [key for key in flat if sep in key and key != "@timestamp"]
    if not dotted:
        return flat
    out: Fields = {k: v for k, v in flat.items() if sep not in k or k == "@timestamp"}
    for key in dotted:
        parts = key.split(sep)
        target = out
        for part in parts[:-1]:
            nxt = target.get(part)
            if type(nxt) is not dict:
                nxt = {}
                target[part] = nxt
            target = nxt
        last = parts[-1]
        existing = target.get(last)
        value = flat[key]
        if type(existing) is dict and type(value) is dict:
            merge_into(existing, value)
        else:
            target[last] = value
    return out


def merge_into(base: Fields, extra: Fields) -> None:
    """Deep-merge `extra` into `base` (extra wins on conflicts)."""
    for key, value in extra.items():
        existing = base.get(key)
        if type(existing) is dict and type(value) is dict:
            merge_into(existing, value)
        else:
            base[key] = value


def _format_ts(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ISO 8601 in UTC with "Z" (what most JSON loggers write): normalised with string operations.
_UTC_Z = re.compile(
    r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"(?:\.(\d{1,6}))?Z"
).fullmatch


def timestamp_normaliser(fmt: str | None) -> Callable[[Any], str | None]:
    """Turns a parsed timestamp value into our ISO 8601 UTC form, or None if unreadable."""

    def normalise(value: Any) -> str | None:
        if fmt is None and isinstance(value, str) and (quick := _UTC_Z(value)) is not None:
            fraction = quick.group(1) or ""
            return f"{value[:19]}.{fraction:0<6}Z"
        try:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return _format_ts(datetime.fromtimestamp(float(value), UTC))
            if not isinstance(value, str):
                return None
            if fmt is None:
                return _format_ts(datetime.fromisoformat(value.replace("Z", "+00:00")))
            return _format_ts(datetime.strptime(value, fmt))  # naive means UTC
        except (ValueError, OverflowError, OSError):
            return None

    return normalise


def _get_path(fields: Fields, path: str) -> Any:
    parts = path.split(".")
    target: Any = fields
    for part in parts[:-1]:
        target = target.get(part) if isinstance(target, dict) else None
    if isinstance(target, dict):
        return target.get(parts[-1])
    return None


def _pop_path(fields: Fields, path: str) -> None:
    """Remove the field at dotted `path`, and the objects it leaves empty."""
    parts = path.split(".")
    chain: list[Fields] = [fields]
    for part in parts[:-1]:
        nxt = chain[-1].get(part)
        if not isinstance(nxt, dict):
            return
        chain.append(nxt)
    chain[-1].pop(parts[-1], None)
    for depth in range(len(parts) - 1, 0, -1):
        if chain[depth]:
            return
        del chain[depth - 1][parts[depth - 1]]


def _with_timestamp(parse: Parser, field: str, fmt: str | None, keep: bool = False) -> Parser:
    """`parse`, then the value of `field` becomes @timestamp (ISO 8601 UTC); the field itself
    is removed unless `keep` (an unreadable value stays, flagged timestamp_parse_error)."""
    normalise = timestamp_normaliser(fmt)
    drop = not keep and field != "@timestamp"

    def parse_with_timestamp(text: str) -> tuple[Fields | None, tuple[str, ...]]:
        fields, flags = parse(text)
        if fields is None or "parse_error" in flags:
            return fields, flags
        raw = fields.get(field) if field == "@timestamp" else _get_path(fields, field)
        if raw is None:
            return fields, flags
        stamp = normalise(raw)
        if stamp is None:
            if field == "@timestamp":
                del fields["@timestamp"]
            return fields, (*flags, "timestamp_parse_error")
        if drop:
            _pop_path(fields, field)
        fields["@timestamp"] = stamp
        return fields, flags

    return parse_with_timestamp


def _parse_error(message: str) -> tuple[Fields, tuple[str, ...]]:
    return {"error": {"message": message}}, ("parse_error",)


def _text(text: str) -> tuple[Fields | None, tuple[str, ...]]:
    return None, ()


def _json(text: str) -> tuple[Fields | None, tuple[str, ...]]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return _parse_error(f"invalid JSON: {exc}")
    if not isinstance(value, dict):
        return _parse_error(f"JSON line is a {type(value).__name__}, not an object")
    return nest(value), ()


def _json_or_text(text: str) -> tuple[Fields | None, tuple[str, ...]]:
    """JSON objects parsed; a line not starting with "{" is plain text (no flag)."""
    if not text.lstrip().startswith("{"):
        return None, ()
    return _json(text)


# python-json-logger's JsonFormatter writes LogRecord attribute names; KafkaHandler's ECS names.
_STDLIB_RENAMES = {
    "levelname": "log.level",
    "name": "log.logger",
    "filename": "log.origin.file.name",
    "lineno": "log.origin.file.line",
    "funcName": "log.origin.function",
    "process": "process.pid",
    "processName": "process.name",
    "thread": "process.thread.id",
    "threadName": "process.thread.name",
    "stack_info": "log.origin.stack_trace",
    "timestamp": "@timestamp",  # JsonFormatter(timestamp=True): ISO 8601
}
_STDLIB_DERIVED = ("levelno", "msecs", "relativeCreated", "created", "asctime", "exc_info")


def _exception_line(stack: str) -> tuple[str, str]:
    """(error.type, error.message) from a formatted traceback's last line."""
    lines = [line for line in stack.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    kind, sep, message = last.partition(": ")
    if not sep and " " in kind.strip():
        return "", last
    return kind.strip(), message


def python_json_logger(flat: Fields) -> Fields:
    """python-json-logger's field names -> KafkaHandler's ECS record (before nesting).
    exc_info (the formatted traceback) becomes error.stack_trace / type / message; created
    (epoch seconds) is the @timestamp when there is no "timestamp"; levelno, msecs and
    relativeCreated and asctime are dropped (derived); every other field is kept as it is."""
    if "levelname" not in flat and "exc_info" not in flat and "timestamp" not in flat:
        return flat
    out: Fields = {}
    for key, value in flat.items():
        renamed = _STDLIB_RENAMES.get(key)
        if renamed is not None:
            out[renamed] = value.lower() if key == "levelname" and isinstance(value, str) else value
        elif key not in _STDLIB_DERIVED:
            out[key] = value
    created = flat.get("created")
    if "@timestamp" not in out and isinstance(created, (int, float)):
        out["@timestamp"] = created
    stack = flat.get("exc_info")
    if isinstance(stack, str) and stack:
        kind, message = _exception_line(stack)
        out["error.stack_trace"] = stack.rstrip("\n")
        if kind:
            out["error.type"] = kind
        out["error.message"] = message
    return out


def _json_parser(config: ParserConfig) -> Parser:
    base = _json_or_text if config.non_json == "text" else _json
    if config.preset != "python-json-logger":
        return base

    def parse(text: str) -> tuple[Fields | None, tuple[str, ...]]:
        fields, flags = base(text)
        if fields is None or flags:
            return fields, flags
        # The stdlib names have no dots, so they are top-level keys of the nested fields.
        return nest(python_json_logger(fields)), flags

    return parse


def _regex(pattern: str) -> Parser:
    match = re.compile(pattern).search

    def parse(text: str) -> tuple[Fields | None, tuple[str, ...]]:
        found = match(text)
        if found is None:
            return _parse_error("line does not match parser.pattern")
        groups = {k: v for k, v in found.groupdict().items() if v is not None}
        return nest(groups, "__"), ()

    return parse


def build_parser(config: ParserConfig) -> Parser:
    if config.type == "text":
        return _text
    parser = _json_parser(config) if config.type == "json" else _regex(config.pattern or "")
    field = config.timestamp_field or ("@timestamp" if config.type == "json" else None)
    if field is None:
        return parser
    if config.type == "regex":
        field = field.replace("__", ".")
    return _with_timestamp(parser, field, config.timestamp_format, config.keep_timestamp_field)
