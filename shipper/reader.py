"""Line framing: bytes at known file offsets in, complete lines with their offsets out.

- A line ends at "\\n" ("\\r\\n" is accepted; the "\\r" is dropped). Its `end` is the offset of
  the byte after the "\\n": the checkpoint may move there once the line is acknowledged.
- An unterminated last line is held until its "\\n" arrives, or, if `partial_timeout` is set,
  shipped after that much idle time with the flag "partial" (the bytes that follow later start
  a new line at the next offset).
- A line longer than `max_line_bytes` never stops the file: "split" ships it in pieces of at
  most that size (each flagged "split"); "truncate" ships the first `max_line_bytes` flagged
  "truncated" and counts the rest as dropped (reason "line_truncated").
- Invalid UTF-8 is replaced with U+FFFD and flagged "invalid_utf8"; never fatal. (A format
  layer that joins pieces of lines, shipper/container.py, asks for `errors="surrogateescape"`
  instead: a piece cut inside a character keeps its bytes until the pieces are joined.)
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import accumulate, count, repeat
from operator import add
from typing import Any

from kafka_logging.speedups import native

NO_FLAGS: tuple[str, ...] = ()

# (start, end, text, flags): a plain tuple, the cheapest thing Python can build per line.
# `end` is the offset just after the line's "\n" (where the next line starts).
Line = tuple[int, int, str, tuple[str, ...]]
# What is shipped: a Line, possibly followed by what a format layer knows about it
# (shipper/container.py: the first physical line's offset, the runtime's time, the stream).
Event = tuple[int, int, str, tuple[str, ...], *tuple[Any, ...]]

# The compiled framing (kafka_logging.speedups): the same Lines as the Python code below
# (tests/unit/speedups), or None when a line is over the limit (the general path handles it).
FrameLines = Callable[[bytes, int, int, str], tuple[list[Line], int] | None]
FRAME_LINES: FrameLines | None = native.frame_lines if native is not None else None


def decode_line(
    raw: bytes, flags: tuple[str, ...] = NO_FLAGS, errors: str = "replace"
) -> tuple[str, tuple[str, ...]]:
    if raw[-1:] == b"\r":
        raw = raw[:-1]
    try:
        return raw.decode("utf-8"), flags
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors), (*flags, "invalid_utf8")


class LineFramer:
    """Turns successive chunks of one file into Lines. Reset it to re-read from an offset."""

    def __init__(
        self,
        offset: int,
        max_line_bytes: int,
        long_lines: str = "split",
        partial_timeout: float | None = None,
        errors: str = "replace",
    ) -> None:
        self.max_line_bytes = max_line_bytes
        self.errors = errors  # decoding error handler for invalid UTF-8
        self.truncate = long_lines == "truncate"
        self.partial_timeout = partial_timeout
        self.dropped = 0  # bytes dropped by truncation, since creation
        self.frame_lines: FrameLines | None = FRAME_LINES
        self.reset(offset)

    def reset(self, offset: int) -> None:
        self.buf = b""
        self.buf_start = offset  # file offset of buf[0]
        self.discard_from: int | None = None  # truncating: start of the line being discarded
        self.discard_head = b""
        self.splitting = False  # the held line already had pieces shipped (split mode)
        self.last_feed = 0.0

    @property
    def next_offset(self) -> int:
        """The file offset the next chunk must start at."""
        return self.buf_start + len(self.buf)

    @property
    def pending_start(self) -> int:
        """Offset of the first byte not yet turned into a Line."""
        return self.discard_from if self.discard_from is not None else self.buf_start

    def feed(self, chunk: bytes, now: float) -> list[Line]:
        self.last_feed = now
        out: list[Line] = []
        data = self.buf + chunk if self.buf else chunk
        offset = self.buf_start
        if self.discard_from is not None:
            newline = data.find(b"\n")
            if newline < 0:
                self.dropped += len(data)
                self.buf, self.buf_start = b"", offset + len(data)
                return out
            self.dropped += newline
            text, flags = decode_line(self.discard_head, ("truncated",), self.errors)
            out.append((self.discard_from, offset + newline + 1, text, flags))
            self.discard_from, self.discard_head = None, b""
            data = data[newline + 1 :]
            offset += newline + 1
        if not self.splitting:
            fast = self._fast_lines(data, offset)
            if fast is not None:
                if out:
                    out.extend(fast)
                    return out
                return fast
        parts = data.split(b"\n")
        tail = parts.pop()
        limit = self.max_line_bytes
        append = out.append
        if self.splitting and parts:  # the last piece of a line split in an earlier chunk
            self.splitting = False
            raw = parts.pop(0)
            self._long(raw, offset, out, complete=True)
            offset += len(raw) + 1
        for raw in parts:
            size = len(raw) + 1
            if size > limit + 1:
                self._long(raw, offset, out, complete=True)
            else:
                try:
                    text = (raw[:-1] if raw[-1:] == b"\r" else raw).decode("utf-8")
                    append((offset, offset + size, text, NO_FLAGS))
                except UnicodeDecodeError:
                    text, flags = decode_line(raw, NO_FLAGS, self.errors)
                    append((offset, offset + size, text, flags))
            offset += size
        self.buf, self.buf_start = tail, offset
        if len(tail) > limit:
            self._long(tail, offset, out, complete=False)
        return out

    @property
    def plain(self) -> bool:
        """Not in the middle of a long line (splitting or truncating one)."""
        return self.discard_from is None and not self.splitting

    def feed_region(self, chunk: bytes, now: float) -> bytes:
        """For a plain framer: `chunk` read from `buf_start` (the held partial line is read
        again with what follows it). Returns its complete lines as one region of bytes (b""
        if it has no "\\n"); the rest is held as the partial line, as feed() would hold it.
        The caller frames the region later (LineFramer(start).feed(region) gives the Lines
        feed() would have given) and must use feed() instead when the held rest would exceed
        max_line_bytes (long-line handling)."""
        newline = chunk.rfind(b"\n") + 1
        self.buf_start += newline
        self.buf = chunk[newline:]
        self.last_feed = now
        return chunk[:newline]

    def _fast_lines(self, data: bytes, offset: int) -> list[Line] | None:
        """The Lines of `data` when no line is over the limit (state updated), else None
        (nothing changed): compiled (any bytes) or, in Python, only ASCII without "\r"."""
        if self.frame_lines is not None:
            framed = self.frame_lines(data, offset, self.max_line_bytes, self.errors)
            if framed is None:
                return None
            lines, end = framed
            self.buf, self.buf_start = data[end - offset :], end
            return lines
        if data.isascii() and b"\r" not in data:
            return self._ascii_lines(data, offset)
        return None

    def _ascii_lines(self, data: bytes, offset: int) -> list[Line] | None:
        """The common case in C-speed steps: ASCII (one byte per character, so text lengths
        are byte lengths, and always valid UTF-8), no "\\r", no line over the limit. Returns
        None (nothing changed) when a line is too long: the general path handles it."""
        parts = data.decode("ascii").split("\n")
        tail = parts.pop()
        limit = self.max_line_bytes
        if len(tail) > limit or (parts and max(map(len, parts)) > limit):
            return None
        # end of line i = offset + (length of lines 0..i) + (i + 1) newlines
        ends = list(map(add, accumulate(map(len, parts)), count(offset + 1)))
        starts = [offset, *ends]
        starts.pop()
        lines = list(zip(starts, ends, parts, repeat(NO_FLAGS)))
        end = ends[-1] if ends else offset
        self.buf, self.buf_start = data[end - offset :], end
        return lines

    def _long(self, raw: bytes, offset: int, out: list[Line], *, complete: bool) -> None:
        """A line over the limit: split or truncate. `complete` when its "\\n" was seen."""
        limit = self.max_line_bytes
        if self.truncate:
            if complete:
                self.dropped += len(raw) - limit
                text, flags = decode_line(raw[:limit], ("truncated",), self.errors)
                out.append((offset, offset + len(raw) + 1, text, flags))
            else:
                self.dropped += len(raw) - limit
                self.discard_from, self.discard_head = offset, raw[:limit]
                self.buf, self.buf_start = b"", offset + len(raw)
            return
        pos = 0
        if not complete:
            self.splitting = True
        while len(raw) - pos > limit:
            text, flags = decode_line(raw[pos : pos + limit], ("split",), self.errors)
            out.append((offset + pos, offset + pos + limit, text, flags))
            pos += limit
        if complete:
            text, flags = decode_line(raw[pos:], ("split",), self.errors)
            out.append((offset + pos, offset + len(raw) + 1, text, flags))
        else:
            self.buf, self.buf_start = raw[pos:], offset + pos

    def flush_partial(self, now: float, force: bool = False) -> list[Line]:
        """The held unterminated line if idle for partial_timeout (or `force`d); else []."""
        if not self.buf or self.discard_from is not None:
            return []
        if not force and (
            self.partial_timeout is None or now - self.last_feed < self.partial_timeout
        ):
            return []
        text, flags = decode_line(self.buf, ("partial",), self.errors)
        line: Line = (self.buf_start, self.buf_start + len(self.buf), text, flags)
        self.buf_start += len(self.buf)
        self.buf = b""
        return [line]
