"""Metrics: the batched latency histogram and the health endpoint."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from prometheus_client import generate_latest

from indexer.metrics import HealthServer, Metrics


def test_batch_histogram_counts_into_le_buckets() -> None:
    """observe_many puts each value in the first bucket whose bound is >= it (Prometheus le)."""
    metrics = Metrics()
    metrics.end_to_end.observe_many([0.05, 0.3, 2.0, 7200.0])
    text = generate_latest(metrics.registry).decode()
    name = "kafka_logging_indexer_end_to_end_latency_seconds"
    assert f'{name}_bucket{{le="0.05"}} 1.0' in text
    assert f'{name}_bucket{{le="0.5"}} 2.0' in text
    assert f'{name}_bucket{{le="2.0"}} 3.0' in text
    assert f'{name}_bucket{{le="+Inf"}} 4.0' in text
    assert f"{name}_count 4.0" in text
    assert metrics.end_to_end.count == 4


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_health_is_200_when_ok_and_503_otherwise() -> None:
    """/health mirrors the status: ok -> 200, stalled -> 503 with the reason."""
    state = {"status": "ok"}
    server = HealthServer(Metrics(), lambda: dict(state), "127.0.0.1", 0)
    try:
        assert _get(server.port, "/health")[0] == 200
        state.update(status="stalled", reason="Elasticsearch unreachable")
        code, body = _get(server.port, "/health")
        assert code == 503
        assert json.loads(body)["reason"] == "Elasticsearch unreachable"
        assert _get(server.port, "/nope")[0] == 404
    finally:
        server.close()
