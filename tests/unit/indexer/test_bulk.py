"""Bulk: per-item classification, whole-request failures, splitting to isolate bad records."""

from __future__ import annotations

from typing import Any

import pytest

from indexer.bulk import BulkSender, Doc, Outcome, action_line, classify_item, classify_response
from kafka_logging.engines.client import EngineApiError, EngineUnreachable


def doc(offset: int, body: bytes = b'{"message":"x"}') -> Doc:
    return Doc(
        tp=("logs", 0),
        offset=offset,
        generation=1,
        action=action_line("logs-2026.11.22", f"id-{offset}"),
        source=body,
        value=body,
        key=None,
        headers=None,
        event_time=None,
        size=len(body),
    )


@pytest.mark.parametrize(
    ("status", "error", "outcome"),
    [
        (201, None, Outcome.OK),
        (200, None, Outcome.OK),
        (409, {"type": "version_conflict_engine_exception"}, Outcome.DUPLICATE),
        (429, {"type": "es_rejected_execution_exception"}, Outcome.RETRY),
        (429, {"type": "rejected_execution_exception"}, Outcome.RETRY),  # OpenSearch's name
        (503, {"type": "unavailable_shards_exception"}, Outcome.RETRY),
        (500, {"type": "whatever"}, Outcome.RETRY),
        (408, {"type": "timeout"}, Outcome.RETRY),
        (400, {"type": "circuit_breaking_exception"}, Outcome.RETRY),
        (403, {"type": "cluster_block_exception"}, Outcome.RETRY),
        (400, {"type": "document_parsing_exception"}, Outcome.PERMANENT),
        (400, {"type": "mapper_parsing_exception"}, Outcome.PERMANENT),
        (400, {"type": "illegal_argument_exception"}, Outcome.PERMANENT),
        (404, {"type": "index_not_found_exception"}, Outcome.PERMANENT),
    ],
)
def test_classify_item(status: int, error: Any, outcome: Outcome) -> None:
    """Each status/error type maps to its outcome (409 is success, 429/5xx retry, 4xx DLQ)."""
    assert classify_item(status, error)[0] is outcome


def test_permanent_reason_names_type_and_cause() -> None:
    """The dead-letter reason carries the status, the error type, reason and cause."""
    _, reason = classify_item(
        400,
        {
            "type": "document_parsing_exception",
            "reason": "failed to parse field [@timestamp]",
            "caused_by": {"type": "illegal_argument_exception", "reason": "bad date"},
        },
    )
    assert reason is not None
    assert "400 document_parsing_exception" in reason
    assert "@timestamp" in reason
    assert "bad date" in reason


def test_errors_false_means_every_item_ok() -> None:
    """The fast path: errors=false needs no item inspection."""
    docs = [doc(0), doc(1)]
    assert [o for _, o, _ in classify_response(docs, {"errors": False})] == [Outcome.OK] * 2


def test_items_pair_with_documents_in_order() -> None:
    """Item i is the answer for document i."""
    docs = [doc(0), doc(1), doc(2)]
    body = {
        "errors": True,
        "items": [
            {"create": {"status": 201}},
            {"create": {"status": 429, "error": {"type": "es_rejected_execution_exception"}}},
            {"create": {"status": 409, "error": {"type": "version_conflict_engine_exception"}}},
        ],
    }
    outcomes = classify_response(docs, body)
    assert [(d.offset, o) for d, o, _ in outcomes] == [
        (0, Outcome.OK),
        (1, Outcome.RETRY),
        (2, Outcome.DUPLICATE),
    ]


def test_a_response_with_the_wrong_item_count_retries_everything() -> None:
    """A malformed answer is never taken as success."""
    outcomes = classify_response([doc(0), doc(1)], {"errors": True, "items": []})
    assert {o for _, o, _ in outcomes} == {Outcome.RETRY}


def _api_error(status: int) -> EngineApiError:
    return EngineApiError("POST", "/_bulk", status, {"error": {"type": "x", "reason": "no"}})


class FakeClient:
    """Refuses any bulk body containing b"bad" with `status`; otherwise all created."""

    def __init__(self, status: int = 400) -> None:
        self.status = status
        self.bodies: list[bytes] = []

    def bulk(self, operations: bytes, **_: Any) -> Any:
        self.bodies.append(operations)
        if b"bad" in operations:
            raise _api_error(self.status)
        lines = operations.count(b"\n") // 2
        return {"errors": False, "items": [{"create": {"status": 201}}] * lines}


@pytest.mark.parametrize("status", [400, 413])
def test_whole_request_refusal_splits_to_isolate_the_bad_record(status: int) -> None:
    """400/413 for the whole request: halves are sent until the one bad record stands alone;
    it is PERMANENT, every other record OK."""
    docs = [doc(i) for i in range(8)]
    docs[5] = doc(5, b'{"message":"bad"}')
    client = FakeClient(status)
    result = BulkSender(client).send(docs)  # type: ignore[arg-type]
    outcomes = {d.offset: o for d, o, _ in result.outcomes}
    assert outcomes == {i: (Outcome.PERMANENT if i == 5 else Outcome.OK) for i in range(8)}
    assert result.requests > 1
    assert result.unavailable is None


def test_the_bulk_body_is_ndjson_with_create_actions() -> None:
    """Action line then source line per document, newline-terminated."""
    client = FakeClient()
    BulkSender(client).send([doc(0)])  # type: ignore[arg-type]
    assert client.bodies == [
        b'{"create":{"_index":"logs-2026.11.22","_id":"id-0"}}\n{"message":"x"}\n'
    ]


class DownClient:
    def bulk(self, *_: Any, **__: Any) -> Any:
        raise EngineUnreachable("cannot reach the search engine at x: connection refused")


def test_unreachable_elasticsearch_retries_every_item_and_says_so() -> None:
    """A connection failure is not a verdict on any record: all RETRY, marked unavailable."""
    result = BulkSender(DownClient()).send([doc(0), doc(1)])  # type: ignore[arg-type]
    assert {o for _, o, _ in result.outcomes} == {Outcome.RETRY}
    assert result.unavailable is not None
    assert "unreachable" in result.unavailable


class OverloadedClient:
    def bulk(self, *_: Any, **__: Any) -> Any:
        raise _api_error(429)


def test_whole_request_429_retries_and_is_not_split() -> None:
    """429 for the whole request: every item RETRY in one request, no splitting."""
    result = BulkSender(OverloadedClient()).send([doc(0), doc(1)])  # type: ignore[arg-type]
    assert {o for _, o, _ in result.outcomes} == {Outcome.RETRY}
    assert result.requests == 1
