"""Arbitrary input never crashes the record codec: it is a record or a RecordDecodeError."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kafka_logging.wire import record

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)
headers = st.lists(
    st.tuples(
        st.sampled_from([record.HEADER_ENCODING, record.HEADER_EVENT_ID, "other"]),
        st.none() | st.binary(max_size=20) | st.sampled_from([b"json", b"avro", b"avro-confluent"]),
    ),
    max_size=3,
)


@settings(max_examples=300, deadline=None)
@given(value=st.none() | st.binary(max_size=300), hdrs=headers)
def test_any_bytes_decode_to_a_record_or_a_decode_error(value: bytes | None, hdrs: Any) -> None:
    """Random bytes with random headers give a dict or RecordDecodeError, nothing else."""
    try:
        decoded = record.decode(value, hdrs)
    except record.RecordDecodeError:
        return
    assert isinstance(decoded, dict)


@settings(max_examples=300, deadline=None)
@given(doc=st.dictionaries(st.text(), json_values, max_size=6))
def test_json_round_trip_keeps_every_field(doc: dict[str, Any]) -> None:
    """Whatever JSON-able fields a record has come back equal after encode and decode."""
    assert (
        record.decode(record.encode_json(doc), record.headers_for(record.Encoding.JSON, "e")) == doc
    )


def test_non_finite_floats_become_null() -> None:
    """JSON has no NaN or infinity: such values are sent as null, the record still goes."""
    doc = {"a": float("inf"), "b": float("nan"), "message": "m"}
    assert record.decode_json(record.encode_json(doc)) == {"a": None, "b": None, "message": "m"}


def test_non_string_keys_become_strings() -> None:
    """Keys JSON cannot hold (ints, tuples) are written as their text, never raised; also
    together with a value that needs the slowest path."""
    assert record.decode_json(record.encode_json({"extra": {1: "a", 2.5: "b"}})) == {
        "extra": {"1": "a", "2.5": "b"}
    }
    value = record.encode_json({"extra": {1: "a", (2, 3): "b"}, "n": 2**70})
    assert record.decode_json(value) == {"extra": {"1": "a", "(2, 3)": "b"}, "n": str(2**70)}


def test_integers_beyond_64_bits_become_strings() -> None:
    """Elasticsearch cannot hold them as numbers: their digits are kept as text."""
    assert record.decode_json(record.encode_json({"n": -(2**63) - 1})) == {"n": str(-(2**63) - 1)}


class _Hostile:
    def __str__(self) -> str:
        raise RuntimeError("no")


@settings(max_examples=100, deadline=None)
@given(
    extra=st.dictionaries(
        st.text(max_size=5),
        st.sampled_from([object(), _Hostile(), {1, 2}, b"\xff", 2**80, (1, 2), float("nan")]),
        max_size=4,
    )
)
def test_unserialisable_values_are_rendered_not_raised(extra: dict[str, Any]) -> None:
    """Sets, bytes, huge ints, objects with a broken __str__: encoding still yields JSON."""
    decoded = record.decode_json(record.encode_json({"message": "m", **extra}))
    assert decoded["message"] == "m"
    assert set(decoded) == {"message", *extra}
