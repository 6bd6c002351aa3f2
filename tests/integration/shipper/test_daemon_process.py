"""The `kafka-logging ship` process: SIGTERM, --check, metrics, and a broker outage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from shipper_helpers import (
    Running,
    consume,
    create_topic,
    every_message,
    make_config,
    messages,
    start_again,
    write_config,
)

from shipper.checkpoint import CheckpointStore

CLI = str(Path(sys.executable).parent / "kafka-logging")


def write(path: Path, *lines: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.writelines(f"{line}\n" for line in lines)


def children(pid: int) -> list[int]:
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out += [int(c) for c in f.read().split()]
    return out


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers", [0, 2], ids=["in-process", "2-workers"])
def test_sigterm_finishes_deliveries_writes_the_checkpoint_and_exits_zero(
    tmp_path: Path, kafka_bootstrap: str, topic: str, workers: int
) -> None:
    """After SIGTERM: exit 0, every line in Kafka, the checkpoint at the end of the file (with
    workers too: they finish their batches and exit with the shipper)."""
    log = tmp_path / "logs" / "app.log"
    write(log, *[f"line-{i}" for i in range(5000)])
    config = make_config(
        tmp_path,
        kafka_bootstrap,
        topic,
        [{"paths": [str(log)], "service": "svc"}],
        output={"workers": workers},
    )
    path = write_config(tmp_path / "shipper.yaml", config)
    proc = subprocess.Popen([CLI, "ship", "--config", str(path)])
    try:
        consume(kafka_bootstrap, topic, lambda rs: len(rs) >= 1)
        write(log, *[f"more-{i}" for i in range(5000)])
        helpers = children(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        deadline = time.monotonic() + 10  # multiprocessing's resource tracker ends on EOF
        while [pid for pid in helpers if os.path.exists(f"/proc/{pid}")]:
            assert time.monotonic() < deadline, "helper processes outlived the shipper"
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
    [entry] = CheckpointStore(config.checkpoint.path).load() or []
    with open(log, "rb") as f:
        acknowledged = f.read(entry.offset).decode().splitlines()
    assert len(acknowledged) >= 5000  # it read and shipped at least what was there at start
    got = messages(consume(kafka_bootstrap, topic, lambda rs: len(rs) >= len(acknowledged)))
    assert set(acknowledged) <= set(got)  # everything the checkpoint covers is in Kafka


@pytest.mark.timeout(60)
def test_check_validates_config_and_connectivity(
    tmp_path: Path, kafka_bootstrap: str, topic: str
) -> None:
    """--check: exit 0 when all is well; non-zero with every reason otherwise."""
    inputs = [{"paths": [str(tmp_path / "logs" / "*.log")], "service": "svc"}]
    good = write_config(
        tmp_path / "good.yaml", make_config(tmp_path, kafka_bootstrap, topic, inputs)
    )
    ok = subprocess.run(
        [CLI, "ship", "--check", "--config", str(good)], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stderr
    assert "config and connectivity OK" in ok.stdout
    bad_config = make_config(tmp_path, "127.0.0.1:1", "no-such-topic", inputs)
    bad = write_config(tmp_path / "bad.yaml", bad_config)
    Path(bad_config.checkpoint.path).parent.mkdir(parents=True, exist_ok=True)
    Path(bad_config.checkpoint.path).write_text("{corrupt")
    failed = subprocess.run(
        [CLI, "ship", "--check", "--config", str(bad)], capture_output=True, text=True, check=False
    )
    assert failed.returncode != 0
    assert "kafka: cannot reach 127.0.0.1:1" in failed.stderr
    assert "checkpoint:" in failed.stderr
    assert "Traceback" not in failed.stderr


@pytest.mark.timeout(60)
def test_metrics_endpoint_reports_lag_lines_and_drops(
    tmp_path: Path, kafka_bootstrap: str, topic: str, run_shipper: Callable[..., Running]
) -> None:
    """Per-file lag, lines read/shipped, delivery failures and dropped bytes are exposed."""
    log = tmp_path / "logs" / "app.log"
    write(log, "x" * 50, "y" * 50)
    inputs = [{"paths": [str(log)], "service": "svc", "name": "app"}]
    config = make_config(
        tmp_path,
        kafka_bootstrap,
        topic,
        inputs,
        metrics={"enabled": True, "host": "127.0.0.1", "port": 0},
        limits={"max_line_bytes": 16, "long_lines": "truncate"},
    )
    running = run_shipper(config)
    consume(kafka_bootstrap, topic, lambda rs: len(rs) >= 2)
    deadline = time.monotonic() + 10
    text = ""
    while time.monotonic() < deadline:
        port = running.shipper.metrics_port
        if port:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                text = resp.read().decode()
            if 'kafka_logging_shipper_lines_shipped_total{input="app"} 2.0' in text:
                break
        time.sleep(0.2)
    running.stop()
    assert 'kafka_logging_shipper_lines_shipped_total{input="app"} 2.0' in text
    assert 'kafka_logging_shipper_lines_read_total{input="app"} 2.0' in text
    assert f'kafka_logging_shipper_lag_bytes{{path="{log}"}} 0.0' in text
    assert 'kafka_logging_shipper_bytes_dropped_total{reason="line_truncated"} 68.0' in text


@pytest.mark.timeout(240)
@pytest.mark.parametrize("workers", [0, 2], ids=["in-process", "2-workers"])
def test_broker_outage_pauses_reading_bounds_memory_and_loses_nothing(
    tmp_path: Path, make_service: Any, run_shipper: Callable[..., Running], workers: int
) -> None:
    """Kafka down longer than the delivery timeout: reading pauses at the in-flight bound,
    failed deliveries are re-read, and when Kafka is back every line arrives (also when
    producer worker processes report the failures)."""
    kafka = make_service("kafka")
    create_topic(kafka.address, "outage")
    log = tmp_path / "logs" / "app.log"
    write(log, *[f"before-{i}" for i in range(1000)])
    config = make_config(
        tmp_path,
        kafka.address,
        "outage",
        [{"paths": [str(log)], "service": "svc"}],
        output={"delivery_timeout_seconds": 3, "retry_backoff_seconds": 0.5, "workers": workers},
        limits={"max_in_flight_bytes": 262144, "read_chunk_bytes": 16384},
    )
    running = run_shipper(config)
    consume(kafka.address, "outage", lambda rs: len(rs) >= 1000)
    kafka.stop()
    lines = [f"during-{i:06d}-" + "z" * 150 for i in range(20000)]  # ~3.3 MB >> the window
    write(log, *lines)
    time.sleep(8)  # > the delivery timeout: deliveries fail and are retried from the file
    shipper = running.shipper
    [tracked] = shipper.files.values()
    assert shipper.window.in_flight <= 262144 + 16384 * 4
    assert tracked.read_offset < log.stat().st_size  # reading paused
    assert tracked.committed < log.stat().st_size
    start_again(kafka)
    expected = [f"before-{i}" for i in range(1000)] + lines
    records = consume(kafka.address, "outage", every_message(expected), timeout=120, idle=2)
    running.stop()
    got = Counter(r["message"] for r in records)
    assert set(got) == set(expected)
    failures = sum(
        s.value
        for m in shipper.metrics.registry.collect()
        if m.name == "kafka_logging_shipper_delivery_failures"
        for s in m.samples
        if s.name.endswith("_total")
    )
    assert failures > 0
    duplicates = sum(n - 1 for n in got.values())
    print(f"outage: {len(records)} records, {duplicates} duplicates, {failures} failed reports")
    assert os.path.exists(config.checkpoint.path)


@pytest.mark.timeout(60)
def test_corrupt_checkpoint_needs_an_explicit_operator_choice(
    tmp_path: Path, kafka_bootstrap: str, topic: str
) -> None:
    """Exit 1 naming both choices; --on-corrupt-checkpoint start-from-end ships only new lines."""
    log = tmp_path / "logs" / "app.log"
    write(log, "old-1", "old-2")
    config = make_config(
        tmp_path, kafka_bootstrap, topic, [{"paths": [str(log)], "service": "svc"}]
    )
    path = write_config(tmp_path / "shipper.yaml", config)
    checkpoint = Path(config.checkpoint.path)
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b'{"format": "kafka-logging-shipper-checkpoint", "version": 1, "che')
    refused = subprocess.run(
        [CLI, "ship", "--config", str(path)], capture_output=True, text=True, check=False
    )
    assert refused.returncode == 1
    assert "--on-corrupt-checkpoint start-from-end" in refused.stderr
    assert "start-from-beginning" in refused.stderr
    assert "Traceback" not in refused.stderr
    proc = subprocess.Popen(
        [CLI, "ship", "--config", str(path), "--on-corrupt-checkpoint", "start-from-end"]
    )
    try:
        deadline = time.monotonic() + 20
        while not list(checkpoint.parent.glob("checkpoint.json.corrupt-*")):
            assert time.monotonic() < deadline, "the corrupt checkpoint was not set aside"
            time.sleep(0.1)
        while not CheckpointStore(checkpoint).load():  # the first scan started the file
            assert time.monotonic() < deadline, "no new checkpoint written"
            time.sleep(0.1)
        write(log, "new-1")
        got = messages(consume(kafka_bootstrap, topic, lambda rs: len(rs) >= 1, idle=1.5))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert got == ["new-1"]
    assert list(checkpoint.parent.glob("checkpoint.json.corrupt-*"))
