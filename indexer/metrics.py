"""Prometheus metrics and the health endpoint of one indexer.

`GET /metrics`: the Prometheus text format. `GET /health`: JSON `{"status": ...}` with 200 when
"ok" and 503 when "starting", "stalled" (Elasticsearch unreachable, or work waiting and
nothing indexed for `stall_after` seconds) or "stopping".
Each Indexer owns its registry: no module-level mutable state.
"""

from __future__ import annotations

import json
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import HistogramMetricFamily
from prometheus_client.registry import Collector

PREFIX = "kafka_logging_indexer"
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60, 300, 3600)
BULK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class BatchHistogram(Collector):
    """A Prometheus histogram fed a batch at a time: one lock per bulk, not per document."""

    def __init__(
        self, name: str, documentation: str, buckets: Iterable[float], registry: CollectorRegistry
    ) -> None:
        self._name = name
        self._doc = documentation
        self._bounds = sorted(buckets)
        self._counts = [0] * (len(self._bounds) + 1)  # the last one is +Inf
        self._sum = 0.0
        self._lock = threading.Lock()
        registry.register(self)

    def observe_many(self, values: Iterable[float]) -> None:
        bounds = self._bounds
        counts = [0] * len(self._counts)
        total = 0.0
        for value in values:
            counts[bisect_left(bounds, value)] += 1
            total += value
        with self._lock:
            self._counts = [a + b for a, b in zip(self._counts, counts, strict=True)]
            self._sum += total

    def collect(self) -> Iterator[HistogramMetricFamily]:
        with self._lock:
            counts, total = list(self._counts), self._sum
        cumulative, running = [], 0
        labels = [repr(float(b)) for b in self._bounds] + ["+Inf"]  # as prometheus_client
        for bound, count in zip(labels, counts, strict=True):
            running += count
            cumulative.append((bound, running))
        yield HistogramMetricFamily(self._name, self._doc, buckets=cumulative, sum_value=total)

    @property
    def count(self) -> int:
        return sum(self._counts)


class Metrics:
    """Every metric the indexer exports, in its own registry."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.indexed = Counter(f"{PREFIX}_docs_indexed", "Documents created", registry=r)
        self.duplicates = Counter(
            f"{PREFIX}_duplicates", "409 answers: already indexed (a replay)", registry=r
        )
        self.retries = Counter(
            f"{PREFIX}_retries", "Documents sent again after a retryable failure", registry=r
        )
        self.dead_lettered = Counter(
            f"{PREFIX}_dead_lettered",
            "Records acknowledged on the dead-letter topic",
            ["stage"],
            registry=r,
        )
        self.bulk_requests = Counter(
            f"{PREFIX}_bulk_requests", "Bulk requests, by result", ["result"], registry=r
        )
        self.bulk_latency = Histogram(
            f"{PREFIX}_bulk_latency_seconds",
            "Duration of one bulk request",
            buckets=BULK_BUCKETS,
            registry=r,
        )
        self.end_to_end = BatchHistogram(
            f"{PREFIX}_end_to_end_latency_seconds",
            "Record @timestamp to indexed",
            LATENCY_BUCKETS,
            r,
        )
        self.lag = Gauge(
            f"{PREFIX}_consumer_lag",
            "High watermark minus committable position",
            ["topic", "partition"],
            registry=r,
        )
        self.buffered_bytes = Gauge(
            f"{PREFIX}_buffered_bytes", "Bytes of records taken, not yet resolved", registry=r
        )
        self.paused = Gauge(f"{PREFIX}_paused", "1 while partitions are paused", registry=r)
        self.es_up = Gauge(
            f"{PREFIX}_elasticsearch_up", "0 while Elasticsearch is unreachable", registry=r
        )


class HealthServer:
    """Serves /metrics and /health on a background thread until `close()`."""

    def __init__(
        self, metrics: Metrics, health: Callable[[], dict[str, Any]], host: str, port: int
    ) -> None:
        registry = metrics.registry

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._reply(200, CONTENT_TYPE_LATEST, generate_latest(registry))
                elif path == "/health":
                    state = health()
                    code = 200 if state["status"] == "ok" else 503
                    self._reply(code, "application/json", json.dumps(state).encode())
                else:
                    self._reply(404, "text/plain", b"not found: try /metrics or /health\n")

            def _reply(self, code: int, ctype: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="indexer-health", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
