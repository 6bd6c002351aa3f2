"""The shipper and the indexer read the `metrics` section alike (issue 16, item 4)."""

from __future__ import annotations

from typing import Any

import pytest

from indexer.config import IndexerConfig
from kafka_logging.config import parse
from shipper.config import ShipperConfig

INPUTS = {"inputs": [{"paths": ["/var/log/app/*.log"], "service": "app"}]}


def _both(metrics: dict[str, Any]) -> list[tuple[bool, str, int]]:
    """(enabled, host, port) as each daemon reads `metrics` (each has its own default port)."""
    shipper = parse({**INPUTS, "metrics": dict(metrics)}, ShipperConfig, environ={}).metrics
    indexer = parse({"metrics": dict(metrics)}, IndexerConfig, environ={}).metrics
    return [(m.enabled, m.host, m.port) for m in (shipper, indexer)]


@pytest.mark.parametrize(
    "metrics",
    [
        {"enabled": False, "port": 9500},
        {"enabled": True, "host": "0.0.0.0", "port": 9500},
        {"enabled": True, "port": 0},
    ],
)
def test_the_same_metrics_section_means_the_same_in_both_daemons(metrics: dict[str, Any]) -> None:
    """enabled, host and port are accepted by both and give the same settings."""
    shipper, indexer = _both(metrics)
    assert shipper == indexer


def test_the_indexers_old_port_zero_still_turns_it_off_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`metrics.port: 0` without `enabled` (the indexer's old way to turn metrics off) still
    does, and logs a deprecation WARNING naming metrics.enabled."""
    config = parse({"metrics": {"port": 0}}, IndexerConfig, environ={})
    assert config.metrics.enabled is False
    assert any(
        r.levelname == "WARNING" and "metrics.enabled: false" in r.getMessage()
        for r in caplog.records
    )


def test_env_override_turns_metrics_off_in_both() -> None:
    """KAFKA_LOGGING__METRICS__ENABLED=false works for either daemon."""
    environ = {"KAFKA_LOGGING__METRICS__ENABLED": "false"}
    assert parse(dict(INPUTS), ShipperConfig, environ=environ).metrics.enabled is False
    assert parse({}, IndexerConfig, environ=environ).metrics.enabled is False
