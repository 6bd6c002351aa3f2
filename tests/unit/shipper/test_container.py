"""Container formats: envelopes decoded, pieces joined per stream, resume points, flags."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from container_writers import conmon_time, containerd, crio, docker, go_rfc3339nano
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper.container import ContainerDecoder, ContainerLine, decode_cri, runtime_time
from shipper.reader import LineFramer

MOMENT = datetime(2026, 12, 2, 10, 0, 20, tzinfo=UTC)


def decode_file(
    data: bytes, fmt: str = "cri", max_bytes: int = 1 << 20, chunk: int = 4096
) -> list[ContainerLine]:
    """Frame `data` as the tailer does (in chunks) and decode it."""
    framer = LineFramer(0, 1 << 20, errors="surrogateescape")
    decoder = ContainerDecoder(fmt, 0, max_bytes, 5.0)  # type: ignore[arg-type]
    out: list[ContainerLine] = []
    for pos in range(0, len(data), chunk):
        out += decoder.feed(framer.feed(data[pos : pos + chunk], 0.0), 0.0)
    return out


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-12-02T10:00:20.123456789Z", "2026-12-02T10:00:20.123456Z"),
        ("2026-12-02T10:00:20.12Z", "2026-12-02T10:00:20.120000Z"),
        ("2026-12-02T10:00:20Z", "2026-12-02T10:00:20.000000Z"),
        ("2026-12-02T10:00:20.123456789+00:00", "2026-12-02T10:00:20.123456Z"),
        ("2026-12-02T11:30:20.123456789+01:30", "2026-12-02T10:00:20.123456Z"),
        ("2026-12-02T00:00:20.5-02:00", "2026-12-02T02:00:20.500000Z"),
    ],
)
def test_runtime_times_become_utc_microseconds(raw: str, expected: str) -> None:
    """containerd's trimmed fractions, CRI-O's 9 digits and numeric offsets all end up as
    the records' UTC form."""
    assert runtime_time(raw) == expected


@pytest.mark.parametrize("raw", ["2026-13-02T10:00:20Z", "yesterday", "2026-12-02 10:00:20Z", ""])
def test_unreadable_runtime_times_are_none(raw: str) -> None:
    """A time that is not RFC 3339 (or not a real date) is None, never an exception."""
    assert runtime_time(raw) is None


def test_cri_line_with_an_empty_body_and_no_trailing_space() -> None:
    """CRI-O's empty F may lack the space before its (empty) body."""
    assert decode_cri("2026-12-02T10:00:20Z stdout F") == (
        "stdout",
        True,
        "2026-12-02T10:00:20.000000Z",
        "",
    )


def test_a_containerd_long_line_cut_inside_a_character_is_joined_exactly() -> None:
    """containerd cuts at 16 KiB bytes, inside a 3-byte character here: the pieces are joined
    as bytes, so the logical line is the original text, not two U+FFFD."""
    text = "a" * (16 * 1024 - 1) + "€" * 3 + "end"
    stamp = go_rfc3339nano(MOMENT, 120_000_000)
    data = containerd("stdout", text.encode(), stamp)
    assert data.count(b" stdout P ") == 1
    [line] = decode_file(data)
    assert line[2] == text
    assert line[3] == ()
    assert (line[0], line[1], line[4]) == (0, len(data), 0)
    assert line[5] == "2026-12-02T10:00:20.120000Z"
    assert line[6] == "stdout"


def test_crio_pieces_and_the_empty_final_piece_make_one_line() -> None:
    """CRI-O: a 40 KiB line is five 8 KiB P pieces and an empty F."""
    text = "x" * (40 * 1024)
    stamp = conmon_time(MOMENT, 5, offset_minutes=60)
    data = crio("stderr", text.encode(), stamp, newline_alone=True)
    assert data.count(b" P ") == 5
    [line] = decode_file(data)
    assert line[2] == text
    assert line[5] == "2026-12-02T10:00:20.000000Z"
    assert line[6] == "stderr"


def test_docker_pieces_are_joined_and_go_escapes_decoded() -> None:
    """json-file: 16 KiB pieces without the newline are joined; \\u003c and friends decode."""
    text = "<b>&" + "y" * 40_000
    stamp = go_rfc3339nano(MOMENT, 1)
    data = docker("stdout", text.encode(), stamp)
    assert data.count(b"\n") == 3
    assert b"\\u003cb\\u003e\\u0026" in data
    [line] = decode_file(data, "docker")
    assert line[2] == text
    assert (line[4], line[5], line[6]) == (0, "2026-12-02T10:00:20.000000Z", "stdout")


def test_interleaved_streams_keep_their_own_pieces_and_the_resume_point_waits() -> None:
    """A stderr line completed while stdout's group is open ships first, with start == end ==
    the group's first byte: a checkpoint there never skips the open group."""
    stamp = go_rfc3339nano(MOMENT, 0)
    first = b"%s stdout P hello \n" % stamp.encode()
    middle = b"%s stderr F oops\n" % stamp.encode()
    last = b"%s stdout F world\n" % stamp.encode()
    lines = decode_file(first + middle + last)
    assert [(x[2], x[6]) for x in lines] == [("oops", "stderr"), ("hello world", "stdout")]
    oops, hello = lines
    assert (oops[0], oops[1], oops[4]) == (0, 0, len(first))
    assert (hello[0], hello[1], hello[4]) == (0, len(first + middle + last), 0)


def test_malformed_lines_ship_flagged_and_the_file_goes_on() -> None:
    """No envelope, an unknown stream or tag, broken JSON: shipped as they are, flagged."""
    stamp = go_rfc3339nano(MOMENT, 0)
    data = (
        b"not a cri line\n"
        + b"%s stdin F what\n" % stamp.encode()
        + b"%s stdout X what\n" % stamp.encode()
        + b"%s stdout F fine\n" % stamp.encode()
    )
    lines = decode_file(data)
    assert [x[3] for x in lines] == [("container_malformed",)] * 3 + [()]
    assert lines[0][2] == "not a cri line"
    assert lines[-1][2] == "fine"
    docker_lines = decode_file(b'{"log": "half\n' + b'["array"]\n', "docker")
    assert [x[3] for x in docker_lines] == [("container_malformed",)] * 2


def test_an_unreadable_runtime_time_is_flagged_not_fatal() -> None:
    """The line ships with time None (the read time is used) and timestamp_parse_error."""
    [line] = decode_file(b"2026-02-30T10:00:00Z stdout F text\n")
    assert (line[2], line[3], line[5]) == ("text", ("timestamp_parse_error",), None)


def test_a_group_over_max_bytes_ships_in_split_pieces() -> None:
    """Memory is bounded: an endless P stream ships in pieces flagged split."""
    stamp = go_rfc3339nano(MOMENT, 0)
    data = b"".join(b"%s stdout P %s\n" % (stamp.encode(), b"z" * 100) for _ in range(10))
    data += b"%s stdout F end\n" % stamp.encode()
    lines = decode_file(data, max_bytes=300)
    assert "".join(x[2] for x in lines) == "z" * 1000 + "end"
    assert all("split" in x[3] for x in lines[:-1])
    assert [x[0] for x in lines[1:]] == [x[1] for x in lines[:-1]]


def test_an_open_group_flushes_after_its_timeout_flagged_partial() -> None:
    """A container that exited mid-line leaves a P without F: it ships after
    partial_flush_seconds, flagged partial, and the resume point moves past it."""
    stamp = go_rfc3339nano(MOMENT, 0)
    data = b"%s stdout P bye\n" % stamp.encode()
    framer = LineFramer(0, 1 << 20)
    decoder = ContainerDecoder("cri", 0, 1 << 20, 5.0)
    assert decoder.feed(framer.feed(data, 10.0), 10.0) == []
    assert decoder.pending
    assert decoder.flush(12.0, framer.pending_start) == []
    [line] = decoder.flush(15.0, framer.pending_start)
    assert (line[2], line[3], line[1]) == ("bye", ("partial",), len(data))
    assert not decoder.pending


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["stdout", "stderr"]),
            st.text(
                alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"),
                max_size=40_000,
            ),
            st.sampled_from(["containerd", "crio", "docker"]),
        ),
        min_size=1,
        max_size=6,
    ),
    st.integers(min_value=512, max_value=70_000),
)
def test_any_lines_round_trip_through_every_runtime_format(
    entries: list[tuple[str, str, str]], chunk: int
) -> None:
    """Whatever the app writes (any Unicode, any length, both streams), decoding what the
    runtime wrote gives back each line once, in order, with its stream; resume points are
    contiguous and end at the file's end."""
    stamp = go_rfc3339nano(MOMENT, 123_000)
    by_format: dict[str, list[tuple[str, str]]] = {}
    for stream, text, runtime in entries:
        by_format.setdefault(runtime, []).append((stream, text.replace("\r", "")))
    for runtime, lines in by_format.items():
        write = {"containerd": containerd, "crio": crio, "docker": docker}[runtime]
        data = b"".join(write(stream, text.encode(), stamp) for stream, text in lines)
        fmt = "docker" if runtime == "docker" else "cri"
        out = decode_file(data, fmt, chunk=chunk)
        if runtime == "docker":  # a cut character is U+FFFD in the file itself
            assert len(out) == len(lines)
        else:
            assert [(x[6], x[2]) for x in out] == lines
        assert all(x[3] == () for x in out) or runtime == "docker"
        assert out[0][0] == 0
        assert [x[0] for x in out[1:]] == [x[1] for x in out[:-1]]
        assert out[-1][1] == len(data)


def test_container_settings_need_a_container_format() -> None:
    """Settings that only mean something for container formats are rejected on plain inputs
    (their defaults, as a config dump writes them, are fine)."""
    from pydantic import ValidationError

    from shipper.config import InputConfig

    assert InputConfig(paths=["/x"], service="s", container={}).format == "plain"
    with pytest.raises(ValidationError, match="container settings need format"):
        InputConfig(paths=["/x"], service="s", container={"partial_flush_seconds": 1})
    with pytest.raises(ValidationError, match="unknown name"):
        InputConfig(paths=["/x"], service="{node}", format="cri")


_ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=200)


@settings(max_examples=100, deadline=None)
@given(
    text=_ANY_TEXT,
    offset=st.integers(min_value=0, max_value=2**62),
    stream=st.sampled_from(["stdout", "stderr", "unknown"]),
    flags=st.sampled_from([(), ("split",)]),
    time=st.sampled_from([None, "2026-12-02T10:00:20.123456Z"]),
    namespace=_ANY_TEXT.filter(lambda t: t and "/" not in t and "_" not in t),
    labels=st.dictionaries(_ANY_TEXT.filter(bool), _ANY_TEXT, max_size=2),
)
def test_container_fast_path_is_byte_equal_to_the_general_path(
    text: str,
    offset: int,
    stream: str,
    flags: tuple[str, ...],
    time: str | None,
    namespace: str,
    labels: dict[str, str],
) -> None:
    """A container line spliced from its stream's template is byte for byte the record the
    general path (a dict through encode_json) gives, with the same key and headers."""
    from shipper.config import InputConfig
    from shipper.records import ContainerEncoder, RecordBuilder

    config = InputConfig(paths=["/x"], service="{namespace}", format="cri", labels=labels)
    builder = RecordBuilder(config, "node-1", "service.name")
    path = f"/var/log/pods/{namespace}_web-1_0f1e/app/3.log"
    encoder = builder.for_file(path, "ident")
    assert isinstance(encoder, ContainerEncoder)
    assert set(encoder.templates) == {"stdout", "stderr"}
    event = (5, 9, text, flags, offset, time, stream)
    [fast] = encoder.batch([event], "2026-12-02T11:00:00.000000Z")
    assert fast == encoder.one(event, "2026-12-02T11:00:00.000000Z")
