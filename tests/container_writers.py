"""Container log files written byte for byte as the runtimes write them (tests of both tiers).

- containerd (pkg/cri/io/logger.go): `<RFC3339Nano> <stream> <P|F> <bytes>\\n`; Go's
  RFC3339Nano trims trailing zeros of the fraction (and the dot when nothing is left); a line
  longer than max_container_log_line_size (16 KiB) is cut every 16 KiB *bytes* (a piece can
  end inside a UTF-8 character), pieces tagged P, the last F; "\\r" before "\\n" is dropped;
  an unterminated tail at exit is written as P.
- CRI-O (conmon's ctr_logging.c): 9 fraction digits and a numeric offset (`+00:00`), one
  piece per read of at most 8 KiB (STDIO_BUF_SIZE): pieces without their "\\n" are P; a line
  whose "\\n" comes alone in the next read ends with an empty F.
- Docker json-file (moby daemon/logger/jsonfilelog): `{"log":"...","stream":"...","time":"..."}`
  with Go's JSON escaping (`<`, `>`, `&` as \\u003c …, U+2028/9 escaped), pieces of 16 KiB
  bytes without the final "\\n" sharing the first piece's time; a character cut at a piece
  boundary becomes one U+FFFD per byte (Go's JSON encoder replaces invalid UTF-8).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

CONTAINERD_MAX = 16 * 1024
CRIO_READ = 8 * 1024
DOCKER_MAX = 16 * 1024


def go_rfc3339nano(moment: datetime, nanos: int) -> str:
    """Go's time.RFC3339Nano in UTC: fraction trimmed of trailing zeros, "Z"."""
    fraction = f"{nanos:09d}".rstrip("0")
    head = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{head}.{fraction}Z" if fraction else f"{head}Z"


def conmon_time(moment: datetime, nanos: int, offset_minutes: int = 0) -> str:
    """conmon: 9 digits and a numeric offset (local time of the node)."""
    zone = timezone(timedelta(minutes=offset_minutes))
    local = moment.astimezone(zone)
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{local:%Y-%m-%dT%H:%M:%S}.{nanos:09d}{sign}{hours:02d}:{minutes:02d}"


def containerd(stream: str, line: bytes, stamp: str, *, complete: bool = True) -> bytes:
    """The bytes containerd writes for one line the container wrote (without its "\\n")."""
    if complete and line.endswith(b"\r"):
        line = line[:-1]
    pieces = [line[i : i + CONTAINERD_MAX] for i in range(0, len(line), CONTAINERD_MAX)] or [b""]
    out = []
    for index, piece in enumerate(pieces):
        tag = b"F" if complete and index == len(pieces) - 1 else b"P"
        out.append(b"%s %s %s %s\n" % (stamp.encode(), stream.encode(), tag, piece))
    return b"".join(out)


def crio(stream: str, line: bytes, stamp: str, *, newline_alone: bool = False) -> bytes:
    """The bytes conmon writes for one line: a P per read of <= 8 KiB; with `newline_alone`
    (the line's length is a multiple of the read size) the "\\n" arrives in a read of its own
    and makes an empty F."""
    pieces = [line[i : i + CRIO_READ] for i in range(0, len(line), CRIO_READ)] or [b""]
    out = []
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        tag = b"F" if last and not newline_alone else b"P"
        out.append(b"%s %s %s %s\n" % (stamp.encode(), stream.encode(), tag, piece))
    if newline_alone:
        out.append(b"%s %s F \n" % (stamp.encode(), stream.encode()))
    return b"".join(out)


def go_json_string(text: str) -> str:
    """A string as Go's encoding/json writes it (HTML-safe escaping)."""
    encoded = json.dumps(text, ensure_ascii=False)
    return (
        encoded.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def docker(stream: str, line: bytes, stamp: str) -> bytes:
    """The json-file lines for one line (bytes without "\\n"): 16 KiB pieces; the last one
    carries the "\\n"; invalid UTF-8 (a cut character) becomes U+FFFD per byte."""
    data = line + b"\n"
    pieces = [data[i : i + DOCKER_MAX] for i in range(0, len(data), DOCKER_MAX)]
    out = []
    for piece in pieces:
        text = "".join(_go_decode(piece))
        out.append(
            '{"log":%s,"stream":"%s","time":"%s"}\n' % (go_json_string(text), stream, stamp)  # noqa: UP031
        )
    return "".join(out).encode()


def _go_decode(piece: bytes) -> list[str]:
    """Go's JSON encoder: each byte of an invalid UTF-8 sequence becomes U+FFFD."""
    out: list[str] = []
    i = 0
    while i < len(piece):
        for size in (1, 2, 3, 4):
            chunk = piece[i : i + size]
            try:
                out.append(chunk.decode("utf-8"))
            except UnicodeDecodeError:
                continue
            i += size
            break
        else:
            out.append("\ufffd")
            i += 1
    return out
