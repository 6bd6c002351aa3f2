"""The indexer's metrics endpoint follows metrics.enabled / metrics.port like the shipper's."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from test_worker import FakeConsumer, FakeES, make, ok


def test_enabled_with_port_zero_serves_on_a_free_port() -> None:
    """`enabled: true, port: 0` binds any free port (it used to mean off); /health answers."""
    indexer = make(FakeConsumer(), FakeES(ok), metrics={"enabled": True, "port": 0})
    try:
        port = indexer.metrics_port
        assert port is not None
        assert port > 0
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
                body = resp.read()
        except urllib.error.HTTPError as exc:  # 503 "starting": not run yet
            body = exc.read()
        assert json.loads(body)["status"] == "starting"
    finally:
        indexer._shutdown()


def test_disabled_serves_nothing() -> None:
    """`enabled: false` opens no port."""
    indexer = make(FakeConsumer(), FakeES(ok), metrics={"enabled": False, "port": 0})
    assert indexer.metrics_port is None
