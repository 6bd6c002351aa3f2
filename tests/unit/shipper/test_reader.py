"""Line framing: offsets, partial lines, long lines, invalid UTF-8."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shipper.reader import LineFramer


def test_complete_lines_carry_their_offsets_and_the_next_line_start() -> None:
    """Each line's end is the offset right after its newline; CRLF loses the CR."""
    framer = LineFramer(100, max_line_bytes=1000)
    lines = framer.feed(b"ab\ncd\r\nef", now=0)
    assert lines == [(100, 103, "ab", ()), (103, 107, "cd", ())]
    assert framer.next_offset == 109
    assert framer.pending_start == 107


def test_partial_last_line_is_held_until_its_newline_arrives() -> None:
    """An unterminated line is not emitted; completed by the next chunk, it is one line."""
    framer = LineFramer(0, max_line_bytes=1000)
    assert framer.feed(b"hel", now=0) == []
    assert framer.flush_partial(now=100) == []  # no timeout configured: wait forever
    assert framer.feed(b"lo\n", now=1) == [(0, 6, "hello", ())]


def test_partial_line_is_flushed_after_the_idle_timeout_with_a_flag() -> None:
    """With partial_timeout, an idle unterminated line ships flagged "partial"."""
    framer = LineFramer(0, max_line_bytes=1000, partial_timeout=2.0)
    framer.feed(b"abc", now=10)
    assert framer.flush_partial(now=11) == []
    assert framer.flush_partial(now=12) == [(0, 3, "abc", ("partial",))]
    assert framer.feed(b"def\n", now=13) == [(3, 7, "def", ())]


def test_long_line_is_split_into_flagged_pieces_and_the_file_goes_on() -> None:
    """split: pieces of at most max_line_bytes, contiguous offsets, then normal lines."""
    framer = LineFramer(0, max_line_bytes=16)
    data = b"x" * 40 + b"\nnext\n"
    lines = framer.feed(data, now=0)
    assert [line[2] for line in lines] == ["x" * 16, "x" * 16, "x" * 8, "next"]
    assert [line[3] for line in lines[:3]] == [("split",)] * 3
    assert [(line[0], line[1]) for line in lines] == [(0, 16), (16, 32), (32, 41), (41, 46)]


def test_long_line_split_across_chunks_never_buffers_more_than_the_limit() -> None:
    """A line longer than the limit arriving in small chunks is emitted as it grows."""
    framer = LineFramer(0, max_line_bytes=16)
    out = []
    for _ in range(10):
        out += framer.feed(b"y" * 10, now=0)
        assert len(framer.buf) <= 16
    out += framer.feed(b"\n", now=0)
    assert "".join(line[2] for line in out) == "y" * 100
    assert out[-1][1] == 101


def test_truncate_mode_keeps_the_head_flags_it_and_counts_the_rest_as_dropped() -> None:
    """truncate: one record of max_line_bytes flagged "truncated"; the rest is counted."""
    framer = LineFramer(0, max_line_bytes=16, long_lines="truncate")
    lines = framer.feed(b"z" * 20, now=0) + framer.feed(b"z" * 20 + b"\nok\n", now=0)
    assert lines == [(0, 41, "z" * 16, ("truncated",)), (41, 44, "ok", ())]
    assert framer.dropped == 24


def test_invalid_utf8_is_replaced_and_flagged_never_fatal() -> None:
    """Bad bytes become U+FFFD; the line is flagged invalid_utf8."""
    framer = LineFramer(0, max_line_bytes=100)
    lines = framer.feed(b"caf\xc3\n\xff\xfeok\nfine\n", now=0)
    assert lines[0] == (0, 5, "caf\ufffd", ("invalid_utf8",))
    assert lines[1][2] == "\ufffd\ufffdok"
    assert lines[2] == (10, 15, "fine", ())


def test_byte_by_byte_feeding_frames_exactly_like_one_chunk() -> None:
    """Chunk boundaries never change the lines or their offsets."""
    data = b"one\ntwo\r\n\nthree " + b"x" * 30 + b"\nfour\n"
    whole = LineFramer(0, max_line_bytes=20).feed(data, now=0)
    framer = LineFramer(0, max_line_bytes=20)
    pieces = []
    for i in range(len(data)):
        pieces += framer.feed(data[i : i + 1], now=0)
    assert "".join(p[2] for p in pieces) == "".join(w[2] for w in whole)
    assert pieces[-1][1] == whole[-1][1] == len(data)
    assert [p[2] for p in pieces if not p[3]] == [w[2] for w in whole if not w[3]]


def test_reset_rereads_from_an_offset() -> None:
    """After reset(offset), framing restarts cleanly at that offset."""
    framer = LineFramer(0, max_line_bytes=100)
    framer.feed(b"aaa\nbb", now=0)
    framer.reset(4)
    assert framer.next_offset == 4
    assert framer.feed(b"bb\n", now=0) == [(4, 7, "bb", ())]


# ---- the ASCII fast path and regions (worker processes) --------------------------------

_CHUNKS = st.lists(
    st.text(st.sampled_from("ab \n\r\té"), max_size=60).map(lambda t: t.encode()),
    max_size=8,
)


def _general(framer: LineFramer) -> LineFramer:
    """The same framer with the ASCII fast path switched off."""
    framer._ascii_lines = lambda data, offset: None  # type: ignore[method-assign]
    return framer


@settings(max_examples=300, deadline=None)
@given(chunks=_CHUNKS, limit=st.integers(min_value=4, max_value=40))
def test_ascii_fast_path_frames_exactly_like_the_general_path(
    chunks: list[bytes], limit: int
) -> None:
    """Any chunking of any mix of ASCII, CR, non-ASCII and long lines: same Lines, same
    offsets, same held bytes, same dropped count, whichever path framed them."""
    for long_lines in ("split", "truncate"):
        fast = LineFramer(7, max_line_bytes=limit, long_lines=long_lines)
        slow = _general(LineFramer(7, max_line_bytes=limit, long_lines=long_lines))
        for chunk in chunks:
            assert fast.feed(chunk, now=0) == slow.feed(chunk, now=0)
            assert (fast.buf, fast.buf_start, fast.dropped) == (
                slow.buf,
                slow.buf_start,
                slow.dropped,
            )


@settings(max_examples=200, deadline=None)
@given(chunks=_CHUNKS)
def test_regions_framed_later_give_the_lines_feed_gives(chunks: list[bytes]) -> None:
    """feed_region (reading the held partial line again with what follows) hands out complete
    lines whose framing by a fresh framer is exactly what feed() yields, at the same offsets;
    the partial line is held the same way."""
    fed = LineFramer(0, max_line_bytes=1 << 20)
    regioned = LineFramer(0, max_line_bytes=1 << 20)
    data = b""
    expected: list[tuple[int, int, str, tuple[str, ...]]] = []
    got: list[tuple[int, int, str, tuple[str, ...]]] = []
    for chunk in chunks:
        data += chunk
        expected += fed.feed(chunk, now=0)
        start = regioned.buf_start
        region = regioned.feed_region(data[start:], now=0)
        got += LineFramer(start, max_line_bytes=1 << 20).feed(region, now=0)
        assert (regioned.buf, regioned.buf_start) == (fed.buf, fed.buf_start)
    assert got == expected
