"""Bulk requests: build the NDJSON body, send it, classify every item's result.

- 201 created -> OK; 409 version conflict (op_type=create of an existing `_id`) -> DUPLICATE,
  a success: the record was indexed before (a replay).
- 429, 5xx, 408 and the error types in RETRYABLE_TYPES -> RETRY: only those items go again.
- Any other 4xx (mapping and parsing errors, invalid index names...) -> PERMANENT: dead-letter.
- The whole request refused with 400/413 -> split in halves until the bad record(s) are
  isolated; a single record refused that way is PERMANENT.
- The whole request failing otherwise (node down, timeout, 429, 5xx) -> every item RETRY,
  and the result says Elasticsearch is unavailable.

`send_bulk` runs on a worker thread; it never raises for Elasticsearch's answers.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from kafka_logging.engines.engine import RETRYABLE_ERROR_TYPES

if TYPE_CHECKING:
    from indexer.tracker import TopicPartition
    from kafka_logging.engines.client import EngineClient

# Per-item error types retried like 429/5xx, on Elasticsearch and OpenSearch alike.
RETRYABLE_TYPES = RETRYABLE_ERROR_TYPES

# Ask only for what classification needs: the bulk response shrinks to a few bytes per item.
FILTER_PATH = "errors,items.*.status,items.*.error"


class Outcome(enum.Enum):
    OK = "ok"
    DUPLICATE = "duplicate"
    RETRY = "retry"
    PERMANENT = "permanent"


@dataclass(slots=True)
class Doc:
    """One record on its way to Elasticsearch, with what is needed to dead-letter it."""

    tp: TopicPartition
    offset: int
    generation: int
    action: bytes  # the action line, without newline
    source: bytes  # the document, one line without newline
    value: bytes | None  # the original message value (for the dead-letter topic)
    key: bytes | None
    headers: list[tuple[str, bytes]] | None
    event_time: float | None  # the record's @timestamp, epoch seconds
    size: int  # bytes this record holds in memory (accounting)
    attempts: int = 0


@dataclass
class BulkResult:
    """What became of each document of one send_bulk call."""

    outcomes: list[tuple[Doc, Outcome, str | None]] = field(default_factory=list)
    requests: int = 0
    latency: float = 0.0  # seconds spent in requests
    unavailable: str | None = None  # why Elasticsearch could not be reached, if it could not


def backoff(attempts: int, initial: float, cap: float, jitter: float) -> float:
    """Seconds to wait before attempt `attempts + 1`: capped exponential, full jitter
    (`jitter` is uniform in [0, 1))."""
    return float(min(cap, initial * 2.0 ** max(attempts - 1, 0)) * jitter)


def action_line(index: str, doc_id: str) -> bytes:
    """`{"create":{"_index":...,"_id":...}}`, sized exactly: orjson's own output buffer is
    ~4 KiB whatever the length, which would be kept for every record held in memory."""
    return b'{"create":{"_index":%b,"_id":%b}}' % (orjson.dumps(index), orjson.dumps(doc_id))


def classify_item(status: int, error: Any) -> tuple[Outcome, str | None]:
    """The outcome of one bulk item from its status and error object."""
    if status < 300:
        return Outcome.OK, None
    if status == 409:
        return Outcome.DUPLICATE, None
    err_type, detail = _describe(error)
    reason = f"{status} {err_type}: {detail}"
    if status in (408, 429) or status >= 500 or err_type in RETRYABLE_TYPES:
        return Outcome.RETRY, reason
    return Outcome.PERMANENT, reason


def _describe(error: Any) -> tuple[str, str]:
    if isinstance(error, dict):
        err_type = str(error.get("type", "unknown"))
        reason = str(error.get("reason", ""))
        cause = error.get("caused_by")
        if isinstance(cause, dict):
            reason += f" (caused by {cause.get('type')}: {cause.get('reason')})"
        return err_type, reason
    return "unknown", str(error)


def classify_response(docs: list[Doc], body: Any) -> list[tuple[Doc, Outcome, str | None]]:
    """Pair each document with its item's outcome (items come back in request order)."""
    if isinstance(body, dict) and body.get("errors") is False:
        return [(doc, Outcome.OK, None) for doc in docs]
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list) or len(items) != len(docs):
        bad = "bulk response does not list one item per document"
        return [(doc, Outcome.RETRY, bad) for doc in docs]
    result: list[tuple[Doc, Outcome, str | None]] = []
    for doc, item in zip(docs, items, strict=True):
        answer: Any = next(iter(item.values()), {}) if isinstance(item, dict) and item else {}
        if not isinstance(answer, dict):
            answer = {}
        outcome, reason = classify_item(int(answer.get("status", 500)), answer.get("error"))
        result.append((doc, outcome, reason))
    return result


class BulkSender:
    """Sends documents with one thread-safe EngineClient; see the module docstring."""

    def __init__(self, client: EngineClient, clock: Callable[[], float] = time.monotonic) -> None:
        from kafka_logging.engines.client import (  # noqa: PLC0415
            EngineApiError,
            EngineUnreachable,
        )

        self._client = client
        self._clock = clock
        self._api_error = EngineApiError
        self._transport_error = EngineUnreachable

    def send(self, docs: list[Doc]) -> BulkResult:
        result = BulkResult()
        self._send(docs, result)
        return result

    def _send(self, docs: list[Doc], result: BulkResult) -> None:
        body = b"\n".join([part for doc in docs for part in (doc.action, doc.source)]) + b"\n"
        started = self._clock()
        result.requests += 1
        try:
            response = self._client.bulk(body, filter_path=FILTER_PATH)
        except self._api_error as exc:
            status = exc.status
            if status in (400, 413):
                result.latency += self._clock() - started
                self._split(docs, result, f"{status} whole request refused: {exc.reason}")
                return
            reason = f"bulk request failed: {status} {exc.reason}"
            result.latency += self._clock() - started
            result.unavailable = reason
            result.outcomes.extend((doc, Outcome.RETRY, reason) for doc in docs)
            return
        except self._transport_error as exc:
            reason = f"search engine unreachable: {exc}"
            result.latency += self._clock() - started
            result.unavailable = reason
            result.outcomes.extend((doc, Outcome.RETRY, reason) for doc in docs)
            return
        result.latency += self._clock() - started
        result.outcomes.extend(classify_response(docs, response))

    def _split(self, docs: list[Doc], result: BulkResult, reason: str) -> None:
        if len(docs) == 1:
            result.outcomes.append((docs[0], Outcome.PERMANENT, reason))
            return
        middle = len(docs) // 2
        self._send(docs[:middle], result)
        self._send(docs[middle:], result)
