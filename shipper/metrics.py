"""Prometheus metrics of one shipper (own registry: no global state).

- kafka_logging_shipper_lag_bytes{path}: file size minus the checkpoint (unshipped bytes).
- kafka_logging_shipper_lines_read_total{input} / _lines_shipped_total{input}
- kafka_logging_shipper_delivery_failures_total{reason}: librdkafka error names.
- kafka_logging_shipper_bytes_dropped_total{reason}: 0 unless a documented limit was hit:
  line_truncated (limits.long_lines truncate), deleted_hold_expired (a deleted file held
  longer than limits.deleted_file_hold_seconds), truncated_unread (a file truncated before we
  read it and no copy found), gone_unread (a file vanished before we read it),
  record_too_large (a record cut to fit message.max.bytes).
- kafka_logging_shipper_copies_skipped_total: files at a rotated name holding the same
  generation as a tracked or drained file (a copy), not shipped as new files.
- kafka_logging_shipper_open_files, _tracked_files, _in_flight_bytes.
- kafka_logging_shipper_speedups_info{implementation}: 1 for the hot path in use, "rust" (the
  compiled module) or "python" (see kafka_logging.speedups).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from kafka_logging import speedups

PREFIX = "kafka_logging_shipper"
log = logging.getLogger(__name__)
DROP_REASONS = (
    "line_truncated",
    "deleted_hold_expired",
    "truncated_unread",
    "gone_unread",
    "record_too_large",
)


class _StateCollector(Collector):
    def __init__(
        self,
        lag: Callable[[], Iterable[tuple[str, int]]],
        gauges: Callable[[], dict[str, int]],
    ) -> None:
        self._lag = lag
        self._gauges = gauges

    def collect(self) -> Iterator[GaugeMetricFamily]:
        lag = GaugeMetricFamily(
            f"{PREFIX}_lag_bytes", "Bytes of a file not yet acknowledged by Kafka", labels=["path"]
        )
        for path, value in self._lag():
            lag.add_metric([path], value)
        yield lag
        for name, value in self._gauges().items():
            yield GaugeMetricFamily(f"{PREFIX}_{name}", name.replace("_", " "), value=value)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.lines_read = Counter(
            f"{PREFIX}_lines_read", "Lines read from files", ["input"], registry=self.registry
        )
        self.lines_shipped = Counter(
            f"{PREFIX}_lines_shipped",
            "Records acknowledged by Kafka",
            ["input"],
            registry=self.registry,
        )
        self.delivery_failures = Counter(
            f"{PREFIX}_delivery_failures",
            "Failed deliveries (retried from the file)",
            ["reason"],
            registry=self.registry,
        )
        self.bytes_dropped = Counter(
            f"{PREFIX}_bytes_dropped",
            "Bytes not shipped because a documented limit was hit",
            ["reason"],
            registry=self.registry,
        )
        for reason in DROP_REASONS:
            self.bytes_dropped.labels(reason)
        self.copies_skipped = Counter(
            f"{PREFIX}_copies_skipped",
            "Files at a rotated name holding a generation already tracked or drained",
            registry=self.registry,
        )
        self.speedups = Gauge(
            f"{PREFIX}_speedups_info",
            "The hot path in use: rust (compiled) or python",
            ["implementation"],
            registry=self.registry,
        )
        self.speedups.labels(speedups.IMPLEMENTATION).set(1)

    def watch(
        self,
        lag: Callable[[], Iterable[tuple[str, int]]],
        gauges: Callable[[], dict[str, int]],
    ) -> None:
        self.registry.register(_StateCollector(lag, gauges))

    def serve(self, host: str, port: int) -> int:
        """Start the HTTP endpoint; the bound port (useful with port 0)."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        bound: int = server.server_address[1]
        self._server = server
        log.info("metrics on http://%s:%d/metrics", host, bound)
        return bound

    def close(self) -> None:
        server = getattr(self, "_server", None)
        if server is not None:
            server.shutdown()
            server.server_close()
