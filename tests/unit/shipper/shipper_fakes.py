"""Fakes for the shipper's unit tests: a Kafka sink the test acknowledges by hand, a clock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafka_logging.config import parse
from kafka_logging.wire.record import decode
from shipper.config import ShipperConfig
from shipper.daemon import Shipper


class FakeError:
    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name


class FakeSink:
    """Holds produced messages until the test delivers or fails them (as poll() would)."""

    def __init__(self) -> None:
        self.queued: list[tuple[bytes, bytes | None, list[tuple[str, bytes]], Any]] = []
        self.delivered: list[dict[str, Any]] = []
        self.fatal: str | None = None
        self.auto = False

    def produce(self, value: bytes, key: bytes | None, headers: Any, cb: Any) -> None:
        self.queued.append((value, key, headers, cb))
        if self.auto:
            self.deliver()

    topic = "fake"

    def raw_produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | None,
        partition: int,
        on_delivery: Any,
        callback: None,
        timestamp: int,
        headers: Any,
        /,
    ) -> None:
        assert (partition, callback, timestamp) == (-1, None, 0)
        self.produce(value, key, headers, on_delivery)

    def deliver(self, count: int | None = None) -> None:
        take = self.queued[: count if count is not None else len(self.queued)]
        del self.queued[: len(take)]
        for value, _key, headers, cb in take:
            self.delivered.append(decode(value, headers))
            cb(None, None)

    def fail(self, count: int | None = None, reason: str = "_MSG_TIMED_OUT") -> None:
        take = self.queued[: count if count is not None else len(self.queued)]
        del self.queued[: len(take)]
        for _value, _key, _headers, cb in take:
            cb(FakeError(reason), None)

    def poll(self, timeout: float = 0.0) -> int:
        if self.auto:
            self.deliver()
        return 0

    def __len__(self) -> int:
        return len(self.queued)

    def rebuild(self) -> None:
        self.fatal = None

    def drain(self, deadline: float, clock: Callable[[], float]) -> int:
        if self.auto:
            self.deliver()
        return len(self.queued)

    def close(self) -> None:
        pass


class Clock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def config(
    tmp_path: Path, inputs: list[dict[str, Any]] | None = None, **sections: Any
) -> ShipperConfig:
    limits = {"idle_close_seconds": 5, "copy_wait_seconds": 0}
    limits.update(sections.pop("limits", {}))
    data: dict[str, Any] = {
        "inputs": inputs or [{"paths": [str(tmp_path / "logs" / "*.log")], "service": "svc"}],
        "limits": limits,
        "checkpoint": {"path": str(tmp_path / "state" / "checkpoint.json")},
        "metrics": {"enabled": False},
        "hostname": "unit-host",
    }
    data.update(sections)
    return parse(data, ShipperConfig, environ={})


class Rig:
    def __init__(self, tmp_path: Path, **sections: Any) -> None:
        self.tmp_path = tmp_path
        self.logs = tmp_path / "logs"
        self.logs.mkdir(exist_ok=True)
        limits = {"scan_interval_seconds": 0.1, "max_in_flight_bytes": 1 << 20}
        limits.update(sections.pop("limits", {}))
        self.config = config(tmp_path, limits=limits, **sections)
        self.sink = FakeSink()
        self.clock = Clock()
        self.shipper: Shipper | None = None
        self.max_open = 0

    def start(self, **kwargs: Any) -> Shipper:
        self.shipper = Shipper(self.config, sink=self.sink, clock=self.clock, **kwargs)
        self.shipper.start()
        return self.shipper

    def pump(self, rounds: int = 10, step: float = 0.2) -> None:
        assert self.shipper is not None
        for _ in range(rounds):
            self.clock.advance(step)
            self.shipper.tick()
            self.max_open = max(self.max_open, self.shipper.open_files)

    def stop(self) -> None:
        assert self.shipper is not None
        self.shipper.shutdown()

    def write(self, name: str, *lines: str, mode: str = "a") -> None:
        with open(self.logs / name, mode) as f:
            f.writelines(f"{line}\n" for line in lines)

    def delivered(self) -> list[str]:
        return [r["message"] for r in self.sink.delivered]

    def checkpoint(self) -> dict[str, int]:
        assert self.shipper is not None
        return {Path(e.path).name: e.offset for e in self.shipper.entries()}
