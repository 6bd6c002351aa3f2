"""Records: ECS fields, event.id from host + identity + offset, parser merge rules."""

from __future__ import annotations

import orjson

from kafka_logging.record import ECS_VERSION, decode, line_event_id
from shipper.config import InputConfig, ParserConfig
from shipper.records import RecordBuilder

TS = "2026-11-22T04:31:00.123456Z"


def build(
    config: InputConfig, text: str, flags: tuple[str, ...] = (), key: str | None = "service.name"
):  # type: ignore[no-untyped-def]
    builder = RecordBuilder(config, "host-1", key).for_file("/var/log/app.log", "ident")
    value, msg_key, headers = builder(77, text, flags, TS)
    return decode(value, headers), msg_key, headers


def test_text_record_has_every_ecs_field() -> None:
    """message, log.file.path, log.offset, host, service, dataset, labels, ecs.version."""
    config = InputConfig(paths=["/x"], service="billing", labels={"team": "pay"})
    record, key, headers = build(config, "hello")
    assert record == {
        "@timestamp": TS,
        "message": "hello",
        "log": {"file": {"path": "/var/log/app.log"}, "offset": 77},
        "host": {"hostname": "host-1"},
        "service": {"name": "billing"},
        "event": {"id": line_event_id("host-1", "ident", 77), "dataset": "billing.log"},
        "labels": {"team": "pay"},
        "ecs": {"version": ECS_VERSION},
    }
    assert key == b"billing"
    assert dict(headers)["kl.event_id"] == record["event"]["id"].encode()
    assert dict(headers)["kl.encoding"] == b"json"


def test_flags_are_in_log_flags() -> None:
    """Flags set by framing/multiline/parsers appear as log.flags."""
    record, _, _ = build(InputConfig(paths=["/x"], service="s"), "x", ("split",))
    assert record["log"]["flags"] == ["split"]


def test_json_fields_merge_but_cannot_forge_the_shipper_fields() -> None:
    """A JSON line's event.id / log.offset / host are replaced; its own fields stay."""
    config = InputConfig(paths=["/x"], service="s", parser=ParserConfig(type="json"))
    line = orjson.dumps(
        {
            "message": "from app",
            "log.level": "warn",
            "event": {"id": "forged", "action": "login"},
            "log": {"offset": 1},
            "@timestamp": "2026-01-01T00:00:00Z",
        }
    ).decode()
    record, _, _ = build(config, line)
    assert record["message"] == "from app"
    assert record["log"]["level"] == "warn"
    assert record["log"]["offset"] == 77
    assert record["event"] == {
        "id": line_event_id("host-1", "ident", 77),
        "dataset": "s.log",
        "action": "login",
    }
    assert record["@timestamp"] == "2026-01-01T00:00:00.000000Z"


def test_invalid_json_ships_the_raw_line_flagged() -> None:
    """Invalid JSON is never lost: raw text, parse_error flag, error.message."""
    config = InputConfig(paths=["/x"], service="s", parser=ParserConfig(type="json"))
    record, _, _ = build(config, "{oops")
    assert record["message"] == "{oops"
    assert record["log"]["flags"] == ["parse_error"]
    assert "invalid JSON" in record["error"]["message"]


def test_key_can_be_another_field_or_none() -> None:
    """output.key picks a dotted record field; null sends no key."""
    config = InputConfig(paths=["/x"], service="s")
    assert build(config, "x", key="host.hostname")[1] == b"host-1"
    assert build(config, "x", key=None)[1] is None
