"""Container log formats: the runtime's envelope around each line, beneath the parsers.

Two formats, as the runtimes write them (byte formats in /work/shared/ANCHORS.md):

- ``cri`` (containerd, CRI-O/conmon, conmon-rs; kubelet's /var/log/pods):
  ``<RFC 3339 time> <stdout|stderr> <P|F> <text>\\n``. ``P`` pieces of one stream are joined
  until its ``F``. containerd cuts at 16 KiB *bytes* (a piece can end inside a UTF-8
  character: pieces are joined as bytes, then decoded), CRI-O at every read of at most 8 KiB
  (a long line ends with an empty ``F``). containerd trims trailing zeros of the fraction
  (``…:20.12Z``, ``…:20Z``), CRI-O writes 9 digits and ``+00:00``.
- ``docker`` (json-file driver): ``{"log":"<text>\\n","stream":"stdout","time":"…"}``; a piece
  whose ``log`` lacks the final ``\\n`` is continued by the next piece of the same stream (splits
  every 16 KiB).

`ContainerDecoder` turns the framer's physical Lines of one file into logical lines, in the
order they complete. Pieces of stdout and stderr can interleave (each stream has its own
writer), so partial groups are kept per stream. Each logical line is a `ContainerLine`:

    (start, end, text, flags, offset, time, stream)

- ``offset``: the byte offset of its first physical line. It is the line's ``log.offset`` and
  what its ``event.id`` is derived from, so a re-read gives the same id.
- ``start`` / ``end``: *resume points* for the acknowledgement machinery (acks.py): ``end`` is
  the offset from which re-reading the file misses nothing that was not shipped before: the
  first byte of the earliest partial group still open, else the end of this physical line.
  Consecutive logical lines are contiguous (one's ``end`` is the next one's ``start``) and
  never decrease, so a checkpoint never lands inside an open P…F group; a line completed while
  another stream's group is open has ``start == end`` (re-reading from the group's first byte
  ships it again, with the same event.id).
- ``time``: the runtime's time in the records' form (``%Y-%m-%dT%H:%M:%S.%fZ``, UTC), or None
  when unreadable (flag ``timestamp_parse_error``; the read time is used).
- ``stream``: ``stdout`` or ``stderr`` (``unknown`` for a malformed line).

Anything malformed (no envelope, an unknown stream or tag, invalid JSON) never stops the
file: the physical line ships as it is, flagged ``container_malformed``.
A group larger than ``max_bytes`` ships in pieces flagged ``split``; a group still open after
``flush_seconds`` without a piece (a container that exited mid-line) or at a forced flush ships
flagged ``partial``. Nothing is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Literal

import orjson

from shipper.multiline import Multiline
from shipper.reader import Event, Line

ContainerLine = tuple[int, int, str, tuple[str, ...], int, str | None, str]
Format = Literal["cri", "docker"]

MALFORMED = "container_malformed"
_STREAMS = frozenset(("stdout", "stderr"))
_INVALID = ("invalid_utf8",)

# RFC 3339 as the runtimes write it: Go's RFC3339Nano (fraction trimmed, "Z" or an offset)
# and conmon's 9 digits with a numeric offset.
_RFC3339 = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:[.,](\d{1,9}))?(?:(Z)|([+-])(\d\d):?(\d\d))"
).fullmatch


def runtime_time(raw: str) -> str | None:
    """A runtime's RFC 3339 time as the records write it (UTC, microseconds), else None."""
    if raw[-1:] == "Z" and raw[19:20] == "." and _valid_second(raw[:19]):  # the common case
        fraction = raw[20:-1]
        if 0 < len(fraction) <= 9 and fraction.isdigit() and fraction.isascii():
            return f"{raw[:19]}.{fraction[:6]:0<6}Z"
    found = _RFC3339(raw)
    if found is None:
        return None
    second, fraction, zulu, sign, hours, minutes = found.groups()
    micros = (fraction or "")[:6].ljust(6, "0")
    if zulu or (hours == "00" and minutes == "00"):
        if not _valid_second(second):
            return None
        return f"{second}.{micros}Z"
    try:
        local = datetime.strptime(second, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    shift = timedelta(hours=int(hours), minutes=int(minutes))
    moment = local - shift if sign == "+" else local + shift
    return f"{moment.replace(tzinfo=UTC):%Y-%m-%dT%H:%M:%S}.{micros}Z"


@lru_cache(maxsize=1024)
def _valid_second(second: str) -> bool:
    """A real date and time (cached: the lines of one second share it)."""
    try:
        datetime.strptime(second, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return False
    return True


class _Group:
    """The open partial group of one stream."""

    __slots__ = ("flagged", "offset", "pieces", "size", "time")

    def __init__(self, offset: int, time: str | None) -> None:
        self.offset = offset
        self.time = time
        self.pieces: list[str] = []
        self.size = 0
        self.flagged: tuple[str, ...] = ()


def _join(pieces: list[str], invalid: bool) -> tuple[str, tuple[str, ...]]:
    """The text of a group. Pieces the framer could not decode (a cut inside a character)
    carry their bytes as surrogate escapes: joined as bytes, then decoded once."""
    if not invalid:
        return "".join(pieces), ()
    raw = b"".join(p.encode("utf-8", "surrogateescape") for p in pieces)
    try:
        return raw.decode("utf-8"), ()
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace"), _INVALID


def _clean(text: str, flags: tuple[str, ...]) -> str:
    """A single piece's text: surrogate escapes (invalid UTF-8) become U+FFFD."""
    if "invalid_utf8" in flags:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


# A decoded physical line: (stream, complete, time, body) or None when malformed.
Envelope = tuple[str, bool, str | None, str] | None


def decode_cri(text: str) -> Envelope:
    """`<time> <stream> <tag> <body>`; the space before an empty body may be missing."""
    parts = text.split(" ", 3)
    if len(parts) < 3:
        return None
    raw_time, stream, tag = parts[0], parts[1], parts[2]
    if stream not in _STREAMS:
        return None
    first_tag = tag.split(":", 1)[0]  # the CRI format reserves ":"-separated further tags
    if first_tag == "F":
        complete = True
    elif first_tag == "P":
        complete = False
    else:
        return None
    return stream, complete, runtime_time(raw_time), parts[3] if len(parts) == 4 else ""


def decode_docker(text: str) -> Envelope:
    """`{"log": "...\\n", "stream": "stdout", "time": "..."}`: no final newline = a piece."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    body, stream, raw_time = value.get("log"), value.get("stream"), value.get("time")
    if not isinstance(body, str) or stream not in _STREAMS or not isinstance(raw_time, str):
        return None
    complete = body.endswith("\n")
    if complete:
        body = body[:-2] if body.endswith("\r\n") else body[:-1]
    return str(stream), complete, runtime_time(raw_time), body


DECODERS: dict[str, Callable[[str], Envelope]] = {"cri": decode_cri, "docker": decode_docker}


class ContainerDecoder:
    """Physical Lines of one file -> ContainerLines (see the module docstring)."""

    def __init__(self, fmt: Format, offset: int, max_bytes: int, flush_seconds: float) -> None:
        self.decode = DECODERS[fmt]
        self.max_bytes = max_bytes
        self.flush_seconds = flush_seconds
        self.reset(offset)

    def reset(self, offset: int) -> None:
        """Start over at `offset` (a resume point: no group open before it)."""
        self.groups: dict[str, _Group] = {}
        self.resume = offset
        self.last_piece = 0.0

    @property
    def pending(self) -> bool:
        return bool(self.groups)

    def _resume_after(self, end: int) -> int:
        groups = self.groups
        if not groups:
            return end
        return min(g.offset for g in groups.values())

    def _emit(
        self,
        out: list[ContainerLine],
        end: int,
        text: str,
        flags: tuple[str, ...],
        offset: int,
        time: str | None,
        stream: str,
    ) -> None:
        start = self.resume
        self.resume = resume = max(start, self._resume_after(end))
        if time is None and stream != "unknown":
            flags = (*flags, "timestamp_parse_error")
        out.append((start, resume, text, flags, offset, time, stream))

    def _close(self, out: list[ContainerLine], stream: str, end: int, extra: str) -> None:
        group = self.groups.pop(stream)
        text, flags = _join(group.pieces, "invalid_utf8" in group.flagged)
        more = tuple(f for f in group.flagged if f != "invalid_utf8")
        if extra:
            more = (*more, extra)
        self._emit(out, end, text, (*more, *flags), group.offset, group.time, stream)

    def feed(self, lines: Sequence[Line], now: float) -> list[ContainerLine]:
        out: list[ContainerLine] = []
        decode = self.decode
        groups = self.groups
        for start, end, text, flags in lines:
            envelope = decode(text)
            if envelope is not None and envelope[1] and not groups and not flags:
                # the common case: a complete line while no partial group is open
                stream, _complete, time, body = envelope
                if time is not None:
                    out.append((self.resume, end, body, flags, start, time, stream))
                    self.resume = end
                    continue
            if envelope is None:
                self._emit(
                    out, end, _clean(text, flags), (*flags, MALFORMED), start, None, "unknown"
                )
                continue
            stream, complete, time, body = envelope
            group = groups.get(stream)
            if group is None:
                if complete:  # the common case: one physical line, one logical line
                    self._emit(out, end, _clean(body, flags), flags, start, time, stream)
                    continue
                group = groups[stream] = _Group(start, time)
            self.last_piece = now
            group.pieces.append(body)
            group.size += len(body)
            if flags:
                group.flagged = (*group.flagged, *(f for f in flags if f not in group.flagged))
            if complete:
                self._close(out, stream, end, "")
            elif group.size >= self.max_bytes:
                self._close(out, stream, end, "split")
        return out

    def flush(self, now: float, read_to: int, force: bool = False) -> list[ContainerLine]:
        """Open groups idle past flush_seconds (or all, when `force`d), flagged partial.
        `read_to`: the first byte not yet framed (every line before it was fed): once no
        group is open, that is where a re-read resumes."""
        if not self.groups or (not force and now - self.last_piece < self.flush_seconds):
            return []
        out: list[ContainerLine] = []
        for stream in sorted(self.groups, key=lambda s: self.groups[s].offset):
            self._close(out, stream, read_to, "partial")
        return out


def multiline_by_stream(multiline: Multiline, lines: Sequence[Event], now: float) -> list[Event]:
    """Feed container lines to `multiline` without joining lines of different streams: a line
    of another stream closes the pending event first (a traceback on stderr is not merged with
    what stdout printed meanwhile)."""
    out: list[Event] = []
    for line in lines:
        pending = multiline.lines
        if pending and pending[-1][6] != line[6]:
            out.extend(multiline.flush(now, force=True))
        out.extend(multiline.feed([line], now))
    return out
