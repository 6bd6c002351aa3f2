"""Helpers of the search/tail integration tests: the corpus records, line readers."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

# The console script of the environment running the tests (whatever VENV the Makefile used).
KAFKA_LOGGING = str(Path(sys.executable).parent / "kafka-logging")

KEYWORD = {"type": "keyword", "ignore_above": 1024}
# The shape the indexer's template gives application-logs-* (kept here so these tests do not
# depend on the indexer): keyword ids/levels/names, text + keyword message, date @timestamp.
MAPPING: dict[str, Any] = {
    "dynamic_templates": [
        {"strings_as_keyword": {"match_mapping_type": "string", "mapping": KEYWORD}}
    ],
    "properties": {
        "@timestamp": {"type": "date"},
        "message": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
        "log": {"properties": {"level": KEYWORD, "logger": KEYWORD}},
        "service": {"properties": {"name": KEYWORD}},
        "host": {"properties": {"hostname": KEYWORD, "name": KEYWORD}},
        "event": {"properties": {"id": KEYWORD}},
        "error": {
            "properties": {
                "type": KEYWORD,
                "message": {"type": "text"},
                "stack_trace": {"type": "text"},
            }
        },
        "labels": {"type": "object"},
    },
}

BULK_INFO = 1200  # more than one page of 1000
STACK = (
    "Traceback (most recent call last):\n"
    '  File "/app/pay.py", line 12, in charge\n'
    "    raise ValueError('card declined')\n"
    "ValueError: card declined"
)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def daily(prefix: str, moment: datetime) -> str:
    return f"{prefix}-{moment:%Y.%m.%d}"


def make_record(
    moment: datetime,
    message: str,
    *,
    level: str = "info",
    service: str = "checkout",
    host: str = "web-1",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "@timestamp": iso(moment),
        "message": message,
        "log": {"level": level, "logger": f"{service}.app"},
        "service": {"name": service},
        "host": {"hostname": host},
        "event": {"id": uuid.uuid4().hex},
        "ecs": {"version": "8.17.0"},
        **extra,
    }


@dataclass
class Corpus:
    prefix: str
    now: datetime
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pattern(self) -> str:
        return f"{self.prefix}-*"

    def ids(self, predicate: Any = lambda r: True) -> set[str]:
        return {r["event"]["id"] for r in self.records if predicate(r)}


def build_records(now: datetime) -> list[dict[str, Any]]:
    records = [
        # Groups of three share a timestamp: paging must neither skip nor repeat at ties.
        make_record(
            now - timedelta(minutes=10, seconds=i // 3),
            f"GET /orders/{i} 200",
            host="web-1" if i % 2 else "web-2",
        )
        for i in range(BULK_INFO)
    ]
    records += [
        make_record(
            now - timedelta(minutes=5),
            "disk almost full",
            level="WARNING",
            service="billing",
            host="db-1",
        ),
        make_record(
            now - timedelta(minutes=4), "slow query", level="warn", service="billing", host="db-1"
        ),
        make_record(
            now - timedelta(minutes=3), "cache miss", level="debug", service="billing", host="db-1"
        ),
        make_record(
            now - timedelta(minutes=2),
            "payment failed for order 42",
            level="error",
            error={"type": "ValueError", "message": "card declined", "stack_trace": STACK},
            order_id=42,
            user={"id": "u-7"},
            labels={"env": "prod"},
        ),
        make_record(
            now - timedelta(minutes=1), "out of memory", level="CRITICAL", service="billing"
        ),
        make_record(now - timedelta(days=3), "an old record", service="archive", host="old-1"),
    ]
    return records


class Lines:
    """Lines of a process's stream, read on a thread so a test can wait with a timeout."""

    def __init__(self, stream: IO[str]) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def next(self, timeout: float = 30.0) -> str:
        try:
            line = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line within {timeout}s") from None
        if line is None:
            raise AssertionError("the stream ended")
        return line

    def rest(self, timeout: float = 30.0) -> list[str]:
        """Every remaining line, up to the end of the stream."""
        lines = []
        while (line := self._queue.get(timeout=timeout)) is not None:
            lines.append(line)
        return lines

    def until(self, needle: str, timeout: float = 30.0) -> str:
        while True:
            line = self.next(timeout)
            if needle in line:
                return line


@dataclass
class Running:
    process: subprocess.Popen[str]
    out: Lines
    err: Lines

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(timeout=30)


def index_docs(client: Any, docs: list[tuple[str, dict[str, Any]]]) -> None:
    """Index (index name, record) pairs with `_id` = event.id, searchable when it returns.
    `client` is a kafka_logging.engines.client.EngineClient (every engine)."""
    import orjson

    lines = b"".join(
        orjson.dumps({"index": {"_index": name, "_id": record["event"]["id"]}})
        + b"\n"
        + orjson.dumps(record)
        + b"\n"
        for name, record in docs
    )
    answer = client.request(
        "POST", "/_bulk", params={"refresh": "wait_for"}, body=lines, ndjson=True
    )
    assert answer["errors"] is False, answer


def create_index(client: Any, name: str) -> None:
    client.create_index(name, {"mappings": MAPPING, "settings": {"number_of_replicas": 0}})
