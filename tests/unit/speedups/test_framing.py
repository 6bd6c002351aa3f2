"""The compiled line framing gives exactly the Lines and state of the Python framing."""

from __future__ import annotations

from types import ModuleType

from hypothesis import given, settings
from hypothesis import strategies as st

from shipper.reader import LineFramer

# Pieces that exercise every branch: ASCII, "\r\n", a lone "\r", multi-byte UTF-8, invalid
# UTF-8 (a stray continuation byte, a truncated sequence, an encoded surrogate, an overlong
# form), runs that make lines longer than the limit.
PIECES = [
    b"a",
    b"hello world",
    b"\n",
    b"\n",
    b"\r\n",
    b"\r",
    "é".encode(),
    "€😀".encode(),
    b"\xff",
    b"\xe2\x82",
    b"\xed\xa0\x80",
    b"\xc0\xaf",
    b"x" * 40,
    b'"\\\t',
]
data = st.one_of(st.lists(st.sampled_from(PIECES), max_size=40).map(b"".join), st.binary())
chunks = st.lists(data, min_size=1, max_size=6)


def pair(
    offset: int, limit: int, mode: str, errors: str, native: ModuleType
) -> tuple[LineFramer, LineFramer]:
    compiled = LineFramer(offset, limit, mode, errors=errors)
    compiled.frame_lines = native.frame_lines
    pure = LineFramer(offset, limit, mode, errors=errors)
    pure.frame_lines = None
    return compiled, pure


def state(framer: LineFramer) -> tuple[object, ...]:
    return (
        framer.buf,
        framer.buf_start,
        framer.dropped,
        framer.discard_from,
        framer.discard_head,
        framer.splitting,
    )


@settings(max_examples=400, deadline=None)
@given(
    parts=chunks,
    offset=st.integers(0, 2**40),
    limit=st.integers(1, 64),
    mode=st.sampled_from(["split", "truncate"]),
    errors=st.sampled_from(["replace", "surrogateescape"]),
)
def test_feed_gives_the_same_lines_and_state(
    native: ModuleType, parts: list[bytes], offset: int, limit: int, mode: str, errors: str
) -> None:
    """Any chunks, any limit, both long-line modes, both decoding error handlers: same
    Lines, held bytes and counters."""
    compiled, pure = pair(offset, limit, mode, errors, native)
    for part in parts:
        assert compiled.feed(part, 1.0) == pure.feed(part, 1.0)
        assert state(compiled) == state(pure)
    assert compiled.flush_partial(2.0, force=True) == pure.flush_partial(2.0, force=True)


@settings(max_examples=200, deadline=None)
@given(raw=data, offset=st.integers(0, 2**62))
def test_frame_lines_matches_the_python_general_path(
    native: ModuleType, raw: bytes, offset: int
) -> None:
    """With no line over the limit, frame_lines is the Lines of the general path, flags and
    replacement characters included, and the offset after the last newline."""
    pure = LineFramer(offset, 1 << 20)
    pure.frame_lines = None
    expected = pure.feed(raw, 0.0)
    framed = native.frame_lines(raw, offset, 1 << 20)
    assert framed == (expected, pure.buf_start)
    for line in framed[0]:
        assert type(line) is tuple
        assert type(line[2]) is str


def test_a_line_over_the_limit_is_left_to_the_general_path(native: ModuleType) -> None:
    """None, not a guess, when a complete line or the held rest is longer than the limit."""
    assert native.frame_lines(b"abc\nabcdef\n", 0, 5) is None
    assert native.frame_lines(b"abc\nabcdef", 0, 5) is None
    assert native.frame_lines(b"abc\nabcde", 0, 5) == ([(0, 4, "abc", ())], 4)
