"""Bursts against the real broker: a burst from several threads followed by a normal exit,
every record accounted for in the topic, and the drop report's totals exact when a bound
must shed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from kafka_support import read_topic

from kafka_logging.wire import record as wire

CHILD = Path(__file__).with_name("burst_child.py")
RECORDS, THREADS = 50_000, 4


def run_burst(
    bootstrap: str, topic: str, work: Path, **kwargs: Any
) -> tuple[str, float, int, float]:
    """Run the burst child to its normal exit: (stderr, seconds until exit, its peak RSS in
    MiB, seconds its threads took to log the burst)."""
    out_path, err_path = work / "stdout", work / "stderr"
    argv = [sys.executable, str(CHILD), bootstrap, topic, str(RECORDS), str(THREADS)]
    began = time.monotonic()
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen([*argv, json.dumps(kwargs)], stdout=out, stderr=err)
    deadline = time.monotonic() + 180
    while True:  # os.wait4 gives this child's own peak RSS
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the burst child did not exit within 180 s")
        threading.Event().wait(0.05)
    elapsed = time.monotonic() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = err_path.read_text()
    assert proc.returncode == 0, stderr
    logged = float(out_path.read_text().split()[-1])
    return stderr, elapsed, usage.ru_maxrss // 1024, logged


def markers(bootstrap: str, topic: str, expected: int) -> list[str]:
    """Every message text in `topic`, read until `expected` arrived and 2 s of quiet."""
    return read_topic(
        bootstrap,
        topic,
        expected,
        timeout=120,
        quiet=2.0,
        convert=lambda m: str(wire.decode(m.value(), m.headers())["message"]),
    )


@pytest.mark.timeout(300)
def test_burst_from_four_threads_then_exit_delivers_every_record(
    kafka_bootstrap: str, topic: str, tmp_path: Path
) -> None:
    """With default settings, 50,000 records logged at once by 4 threads, then a normal
    exit, all arrive, each exactly once, and nothing is reported dropped."""
    err, elapsed, rss_mib, logged = run_burst(kafka_bootstrap, topic, tmp_path)
    got = markers(kafka_bootstrap, topic, RECORDS)
    counts = Counter(got)
    expected = {f"burst-{t}-{i}" for t in range(THREADS) for i in range(RECORDS // THREADS)}
    missing = expected - counts.keys()
    print(
        f"\nburst: {len(counts) / RECORDS:.2%} delivered, logged in {logged:.2f} s, "
        f"process exited after {elapsed:.2f} s, peak RSS {rss_mib} MiB"
    )
    assert not missing, f"{len(missing)} of {RECORDS} missing; stderr: {err[-2000:]}"
    assert len(got) == RECORDS, f"{len(got) - RECORDS} duplicates"
    assert "dropped" not in err, err


@pytest.mark.timeout(300)
def test_burst_that_must_shed_reports_exact_totals(
    kafka_bootstrap: str, topic: str, tmp_path: Path
) -> None:
    """When a small queue must shed, stderr reports drops as they happen and, at exit, a
    summary whose total is exactly the number of records missing from the topic."""
    err, _, _, _ = run_burst(
        kafka_bootstrap, topic, tmp_path, max_queue_bytes=2**20, diagnostics_interval=0.2
    )
    summary = re.search(r"handler closed; ([\d,]+) of ([\d,]+) record\(s\) were dropped", err)
    assert summary is not None, err
    dropped, logged = (int(n.replace(",", "")) for n in summary.groups())
    assert logged == RECORDS
    assert 0 < dropped < RECORDS
    assert "since the last report" in err.splitlines()[0], err  # reported as it happened, too
    got = markers(kafka_bootstrap, topic, RECORDS - dropped)
    assert len(got) == len(set(got)) == RECORDS - dropped
