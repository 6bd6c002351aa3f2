"""Oversized records are truncated to fit, never rejected (kafka_logging.handler.fit)."""

from __future__ import annotations

from typing import Any

from kafka_logging.handler.fit import fit
from kafka_logging.wire.record import decode_json, encode_json


def big(message: int, stack: int, extra: int = 0) -> dict[str, Any]:
    return {
        "@timestamp": "2026-01-01T00:00:00.000000Z",
        "log": {"level": "error", "logger": "x"},
        "message": "m" * message,
        "event": {"id": "e1"},
        "error": {
            "type": "E",
            "message": "boom",
            "stack_trace": "Traceback\n" + "s" * stack + "\nE: boom",
        },
        "blob": "b" * extra,
    }


def test_small_record_is_untouched() -> None:
    """A record under the limit is encoded as is, without a truncated flag."""
    data = big(10, 10)
    assert fit(data, encode_json, 10_000) == encode_json(data)


def test_message_and_stack_trace_are_cut_with_flag() -> None:
    """An oversized message and stack trace are cut to fit, flagged, and the tail kept."""
    data = big(50_000, 50_000)
    value = fit(data, encode_json, 20_000)
    assert len(value) <= 20_000
    out = decode_json(value)
    assert out["kafka_logging"]["truncated"] is True
    assert out["kafka_logging"]["original_size"] > 100_000
    assert out["message"].startswith("mmm")
    assert out["error"]["stack_trace"].endswith("E: boom")
    assert out["event"]["id"] == "e1"
    assert len(data["message"]) == 50_000  # the input is not modified


def test_huge_extras_are_removed_and_named() -> None:
    """When cutting text is not enough, non-ECS fields go and are listed."""
    value = fit(big(10, 10, extra=100_000), encode_json, 5_000)
    assert len(value) <= 5_000
    out = decode_json(value)
    assert "blob" not in out
    assert out["kafka_logging"]["removed_fields"] == ["blob"]


def test_multibyte_text_fits() -> None:
    """Limits are bytes: multi-byte characters are cut enough."""
    data = big(0, 0)
    data["message"] = "日" * 40_000
    assert len(fit(data, encode_json, 10_000)) <= 10_000
