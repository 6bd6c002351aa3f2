"""Helpers for the shipper's integration tests: run a Shipper in a thread, read the topic back."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Message
from kafka_support import create_topic, read_topic

from kafka_logging.config import parse
from kafka_logging.wire.record import decode
from shipper.config import ShipperConfig
from shipper.daemon import Shipper

__all__ = [
    "Running",
    "consume",
    "create_topic",
    "every_message",
    "make_config",
    "messages",
    "start_again",
    "write_config",
]


def make_config(
    tmp_path: Path, bootstrap: str, topic: str, inputs: list[dict[str, Any]], **sections: Any
) -> ShipperConfig:
    limits = {"scan_interval_seconds": 0.2, "poll_interval_seconds": 0.05}
    limits.update(sections.pop("limits", {}))
    output = {"topic": topic}
    output.update(sections.pop("output", {}))
    data: dict[str, Any] = {
        "kafka": {"bootstrap_servers": bootstrap, **sections.pop("kafka", {})},
        "output": output,
        "inputs": inputs,
        "limits": limits,
        "checkpoint": {
            "path": str(tmp_path / "state" / "checkpoint.json"),
            "interval_seconds": 0.2,
        },
        "metrics": {"enabled": False},
        "hostname": "test-host",
    }
    data.update(sections)
    return parse(data, ShipperConfig, environ={})


class Running:
    """A Shipper running in a background thread."""

    def __init__(self, config: ShipperConfig, **kwargs: Any) -> None:
        self.shipper = Shipper(config, **kwargs)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.shipper.run()
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def stop(self, timeout: float = 30) -> None:
        self.shipper.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "shipper did not stop"
        if self.error is not None:
            raise self.error


def consume(
    bootstrap: str,
    topic: str,
    until: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 60,
    idle: float = 0.0,
) -> list[dict[str, Any]]:
    """Every record in `topic` from the start, read until `until(records)` holds (or timeout),
    then for `idle` more seconds to catch extras."""
    return read_topic(bootstrap, topic, until, timeout, idle, _record)


def every_message(lines: list[str]) -> Callable[[list[dict[str, Any]]], bool]:
    """A `consume` condition: every one of `lines` was read as a record's message. Not a
    count: replays after a kill or a failed delivery add records, so a count can be reached
    while lines are still on their way (a false loss)."""
    missing = set(lines)
    checked = 0

    def done(records: list[dict[str, Any]]) -> bool:
        nonlocal checked
        for record in records[checked:]:
            missing.discard(record["message"])
        checked = len(records)
        return not missing

    return done


def _record(message: Message) -> dict[str, Any]:
    return decode(message.value(), message.headers())


def messages(records: list[dict[str, Any]]) -> list[str]:
    return [r["message"] for r in records]


def write_config(path: Path, config: ShipperConfig) -> Path:
    """The config as a YAML file, for the CLI."""
    import yaml

    data = config.model_dump(mode="json", exclude_none=True)
    data["kafka"] = {"bootstrap_servers": config.kafka.bootstrap_servers}
    path.write_text(yaml.safe_dump(data))
    return path


def start_again(service: Any, attempts: int = 3) -> None:
    """Restart a stopped private broker. On a loaded machine the first start after a stop
    sometimes dies during start-up (the old process' port or lock not yet released): retry."""
    import time

    from kafka_logging.stack.errors import StackError

    for attempt in range(attempts):
        try:
            service.start()
            return
        except StackError:
            if attempt == attempts - 1:
                raise
            time.sleep(3)
