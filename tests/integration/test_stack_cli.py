"""`kafka-logging stack` as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent / "kafka-logging"


def test_status_reports_both_services_healthy(kafka_bootstrap: str, es_url: str) -> None:
    """`stack status` on the running local stack names versions and health and exits 0."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or os.environ.get("ELASTICSEARCH_URL"):
        return  # the suite runs against an external cluster: there is no local stack to report
    proc = subprocess.run([BIN, "stack", "status"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "kafka 4.1.2: healthy" in proc.stdout
    assert "elasticsearch 9.2.0: healthy" in proc.stdout


def test_up_when_already_up_is_harmless(kafka_bootstrap: str, es_url: str) -> None:
    """A second `stack up` starts nothing and says both are already running."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or os.environ.get("ELASTICSEARCH_URL"):
        return
    proc = subprocess.run([BIN, "stack", "up"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("already running") == 2


def test_bad_port_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    """A port in use by something else gives one clear line and exit status 1."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = subprocess.run(
            [BIN, "stack", "up", "--data-dir", tmp_path, "--kafka-port", str(port)],
            capture_output=True,
            text=True,
            check=False,
        )
    assert proc.returncode == 1
    assert f"port {port} for kafka is already in use" in proc.stderr
    assert "Traceback" not in proc.stderr
