"""A fake confluent-kafka Producer: records produce() calls, serves callbacks on poll()."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class FakeError:
    def __init__(self, name: str, retriable: bool = True) -> None:
        self._name = name
        self._retriable = retriable

    def name(self) -> str:
        return self._name

    def retriable(self) -> bool:
        return self._retriable

    def fatal(self) -> bool:
        return False

    def __str__(self) -> str:
        return self._name


class FakeMessage:
    def __init__(self, topic: str, value: bytes, key: bytes | None, headers: list[Any]) -> None:
        # librdkafka hands header values back as bytes, whatever type they were given in
        headers = [(k, v.encode() if isinstance(v, str) else v) for k, v in headers]
        self._topic, self._value, self._key, self._headers = topic, value, key, headers

    def value(self) -> bytes:
        return self._value

    def key(self) -> bytes | None:
        return self._key

    def headers(self) -> list[Any]:
        return self._headers

    def topic(self) -> str:
        return self._topic


class FakeProducer:
    """`up` decides what happens to produced messages: delivered on the next poll, or held."""

    def __init__(self, config: dict[str, Any], capacity: int = 1_000_000) -> None:
        self.config = config
        self.capacity = capacity
        self.up = True
        self.delivered: list[FakeMessage] = []
        self.queued: list[tuple[FakeMessage, Callable[..., None]]] = []
        self._callbacks: list[tuple[Callable[..., None], Any, FakeMessage]] = []

    def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: list[Any] | None = None,
        on_delivery: Callable[..., None] | None = None,
    ) -> None:
        if len(self.queued) >= self.capacity:
            raise BufferError("Local: Queue full")
        callback = on_delivery or self.config["on_delivery"]
        self.queued.append((FakeMessage(topic, value, key, headers or []), callback))

    def poll(self, timeout: float = 0) -> int:
        if self.up:
            for msg, callback in self.queued:
                self.delivered.append(msg)
                self._callbacks.append((callback, None, msg))
            self.queued.clear()
        served = self._callbacks
        self._callbacks = []
        for callback, err, msg in served:
            callback(err, msg)
        return len(served)

    def purge(self, in_queue: bool = True, in_flight: bool = True, blocking: bool = True) -> None:
        for msg, callback in self.queued:
            self._callbacks.append((callback, FakeError("_PURGE_QUEUE"), msg))
        self.queued.clear()

    def flush(self, timeout: float = -1) -> int:
        self.poll(0)
        return len(self.queued)

    def __len__(self) -> int:
        return len(self.queued) + len(self._callbacks)

    def go_down(self) -> None:
        self.up = False
        self.config["error_cb"](FakeError("_ALL_BROKERS_DOWN"))
