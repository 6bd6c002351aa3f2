"""Which hot path runs: chosen once at import, reported by --version and the shipper."""

from __future__ import annotations

import os
import subprocess
import sys
from types import ModuleType

from click.testing import CliRunner

from kafka_logging import speedups
from kafka_logging.cli import main
from shipper.metrics import Metrics

PROBE = "import kafka_logging.speedups as s; print(s.IMPLEMENTATION, s.native is None)"


def implementation(pure: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != speedups.ENV_PURE}
    if pure is not None:
        env[speedups.ENV_PURE] = pure
    run = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return run.stdout.strip()


def test_the_environment_variable_selects_the_pure_path(native: ModuleType) -> None:
    """KAFKA_LOGGING_PURE=1 runs Python although the compiled module is built; unset or "0",
    the compiled module runs."""
    assert implementation("1") == "python True"
    assert implementation("0") == "rust False"
    assert implementation(None) == "rust False"


def test_version_names_the_hot_path() -> None:
    """`kafka-logging --version` says which path runs and why."""
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert f"speedups: {speedups.IMPLEMENTATION} ({speedups.REASON})" in result.output


def test_shipper_metrics_name_the_hot_path() -> None:
    """kafka_logging_shipper_speedups_info{implementation} is 1 for the path in use."""
    registry = Metrics().registry
    labels = {"implementation": speedups.IMPLEMENTATION}
    assert registry.get_sample_value("kafka_logging_shipper_speedups_info", labels) == 1.0


def test_a_stale_build_is_not_used() -> None:
    """A compiled module built from older sources (another interface) is ignored: the pure
    path runs and the reason says so."""
    probe = (
        "import sys, types; stale = types.ModuleType('kafka_logging.speedups._native'); "
        "stale.INTERFACE = 1; sys.modules[stale.__name__] = stale; "
        "import kafka_logging.speedups as s; print(s.IMPLEMENTATION, '|', s.REASON)"
    )
    env = {k: v for k, v in os.environ.items() if k != speedups.ENV_PURE}
    run = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert run.stdout.startswith("python | compiled module is stale (interface 1, want 2")
