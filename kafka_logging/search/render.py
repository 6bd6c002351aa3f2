"""How `search` and `tail` print records: `text` for people, `json` and `ndjson` for programs.

- text: one line per record -- time, level, service, host, logger, message, key fields -- with
  colour on a terminal; `verbose` adds the full stack trace and every other field, indented.
  Control characters in values are escaped so a log line cannot drive the terminal.
- json: one JSON array of the records (valid even when interrupted: `close()` ends it).
- ndjson: one compact JSON object per line.

Records are printed as they are stored (nested ECS objects), the same for search and tail.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol, TextIO

import click
import orjson

FORMATS = ("text", "json", "ndjson")
Format = Literal["text", "json", "ndjson"]

# Fields the text line already shows (verbose prints every other field).
_SHOWN = frozenset(
    {
        "@timestamp",
        "message",
        "log.level",
        "log.logger",
        "service.name",
        "host.hostname",
        "host.name",
        "error.type",
        "error.message",
        "error.stack_trace",
    }
)
# The default line also shows `key=value` for trace/transaction ids, labels and every field
# outside these ECS namespaces (the `extra=` fields an application logged), not bookkeeping.
_KEY_ALWAYS = ("trace.id", "transaction.id")
_BOOKKEEPING = frozenset(
    {"ecs", "event", "log", "process", "host", "service", "agent", "span", "error", "trace"}
    | {"transaction", "@timestamp", "message"}
)

_LEVEL_COLOURS: dict[str, dict[str, Any]] = {
    "trace": {"fg": "bright_black"},
    "debug": {"fg": "bright_black"},
    "info": {"fg": "green"},
    "notice": {"fg": "cyan"},
    "warning": {"fg": "yellow", "bold": True},
    "warn": {"fg": "yellow", "bold": True},
    "error": {"fg": "red", "bold": True},
    "err": {"fg": "red", "bold": True},
    **{
        name: {"fg": "white", "bg": "red", "bold": True}
        for name in ("critical", "crit", "fatal", "alert", "emergency", "emerg")
    },
}

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class Renderer(Protocol):
    def write(self, record: Mapping[str, Any]) -> None: ...

    def flush(self) -> None:
        """Push what was written to the reader (after each batch of a live stream)."""

    def close(self) -> None: ...


def _escape(text: str) -> str:
    """Control characters (ESC, BEL, CR, ...) shown as \\xNN; newlines and tabs kept."""
    if text.isprintable():  # the common case, checked in C
        return text
    return _CONTROL.sub(_hex, text)


def _hex(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects as dotted keys; lists and scalars kept as values."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:  # decoded JSON: plain dicts (ABC checks are slow)
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value, default=str).decode()


class _Sink:
    """Collects output and writes it in one call per batch (or per 64 KiB), so a stream of
    small records costs one write, not one per record, even on an unbuffered stdout."""

    def __init__(self, out: TextIO, limit: int = 65536) -> None:
        self._out = out
        self._limit = limit
        self._parts: list[str] = []
        self._size = 0

    def add(self, text: str) -> None:
        self._parts.append(text)
        self._size += len(text)
        if self._size >= self._limit:
            self._drain()

    def _drain(self) -> None:
        if self._parts:
            text = "".join(self._parts)
            # Forget before writing: an interrupt after the write must not repeat it.
            self._parts.clear()
            self._size = 0
            self._out.write(text)

    def flush(self) -> None:
        self._drain()
        self._out.flush()


class TextRenderer:
    """Readable lines; coloured when `color` is true."""

    def __init__(self, out: TextIO, *, color: bool, verbose: bool) -> None:
        self._out = _Sink(out)
        self._verbose = verbose
        self._style: Callable[..., str] = click.style if color else _plain

    def write(self, record: Mapping[str, Any]) -> None:
        flat = flatten(record)
        style = self._style
        level = str(flat.get("log.level") or "-")
        colour = _LEVEL_COLOURS.get(level.lower(), {})
        service = flat.get("service.name") or "-"
        host = flat.get("host.hostname") or flat.get("host.name") or "-"
        parts = [
            style(_escape(str(flat.get("@timestamp") or "-")), dim=True),
            style(f"{_escape(level.upper()):<8}", **colour),
            style(_escape(str(service)), fg="cyan"),
            style(_escape(str(host)), fg="blue"),
        ]
        logger = flat.get("log.logger")
        if logger:
            parts.append(style(f"{_escape(str(logger))}:", fg="magenta"))
        parts.append(_indent(_escape(_scalar(flat.get("message", "")))))
        error = self._error_summary(flat)
        if error:
            parts.append(style(error, fg="red"))
        lines = [" ".join(parts)]
        if self._verbose:
            lines.extend(self._details(flat))
        else:
            keys = self._key_fields(flat)
            if keys:
                lines[0] += " " + style(keys, dim=True)
        self._out.add("\n".join(lines) + "\n")

    def flush(self) -> None:
        self._out.flush()

    @staticmethod
    def _error_summary(flat: Mapping[str, Any]) -> str:
        kind, text = flat.get("error.type"), flat.get("error.message")
        if not kind and not text:
            return ""
        summary = ": ".join(_escape(_scalar(v)) for v in (kind, text) if v)
        return f"[{_indent(summary)}]"

    @staticmethod
    def _key_fields(flat: Mapping[str, Any]) -> str:
        shown = [
            f"{key}={_one_line(_escape(_scalar(value)))}"
            for key, value in flat.items()
            if value is not None
            and (key in _KEY_ALWAYS or key.split(".", 1)[0] not in _BOOKKEEPING)
        ]
        return " ".join(shown)

    def _details(self, flat: Mapping[str, Any]) -> list[str]:
        lines = [
            f"    {self._style(key, fg='bright_black')}: {_indent(_escape(_scalar(value)), 6)}"
            for key, value in sorted(flat.items())
            if key not in _SHOWN and value is not None
        ]
        stack = flat.get("error.stack_trace")
        if stack:
            body = _escape(_scalar(stack)).rstrip("\n")
            lines.extend("    " + self._style(line, fg="red") for line in body.split("\n"))
        return lines

    def close(self) -> None:
        self._out.flush()


def _one_line(text: str) -> str:
    return text.replace("\n", "\\n")


def _plain(text: str, **_: Any) -> str:
    return text


def _indent(text: str, width: int = 4) -> str:
    return text.replace("\n", "\n" + " " * width)


class NdjsonRenderer:
    """Compact lines, one object each."""

    def __init__(self, out: TextIO) -> None:
        self._out = _Sink(out)

    def write(self, record: Mapping[str, Any]) -> None:
        self._out.add(orjson.dumps(record, default=str, option=orjson.OPT_APPEND_NEWLINE).decode())

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        self._out.flush()


class JsonRenderer:
    """A JSON array written element by element, so memory stays flat for any --limit."""

    def __init__(self, out: TextIO) -> None:
        self._out = _Sink(out)
        self._count = 0
        self._closed = False

    def write(self, record: Mapping[str, Any]) -> None:
        body = orjson.dumps(record, default=str, option=orjson.OPT_INDENT_2).decode()
        self._out.add(("[\n  " if self._count == 0 else ",\n  ") + _indent(body, 2))
        self._count += 1

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._out.add("[]\n" if self._count == 0 else "\n]\n")
        self._out.flush()


def make_renderer(fmt: str, out: TextIO, *, color: bool = False, verbose: bool = False) -> Renderer:
    """The renderer for `fmt`. Callers flush() after each batch of a live stream."""
    if fmt == "text":
        return TextRenderer(out, color=color, verbose=verbose)
    if fmt == "ndjson":
        return NdjsonRenderer(out)
    if fmt == "json":
        return JsonRenderer(out)
    raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
