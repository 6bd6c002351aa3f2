"""`kafka-logging demo` is the README's first command: it must run green on the local stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent / "kafka-logging"


@pytest.mark.timeout(300)
def test_demo_finds_every_record_exactly_once(kafka_bootstrap: str, es_url: str) -> None:
    """Handler records and shipped file lines all reach Elasticsearch once, with matching counts."""
    proc = subprocess.run(
        [
            BIN,
            "demo",
            "--records",
            "20",
            "--bootstrap-servers",
            kafka_bootstrap,
            "--elasticsearch",
            es_url,
        ],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Every record is in Elasticsearch, exactly once." in proc.stderr
    assert proc.stderr.count("OK  demo-shop-") == 2
    assert "RuntimeError: order 42: no stock for games" in proc.stdout
