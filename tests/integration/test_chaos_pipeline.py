"""The short chaos run (issue 7's CI variant): faults everywhere, nothing lost, nothing twice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kafka_logging.chaos.plan import schedule

BIN = Path(sys.executable).parent / "kafka-logging"


def test_same_seed_same_schedule() -> None:
    """A seed reproduces its fault schedule exactly; another seed gives another one."""
    assert schedule(11, 300) == schedule(11, 300)
    assert schedule(11, 300) != schedule(12, 300)


def test_schedule_covers_every_kind_of_fault() -> None:
    """Even a short run kills processes, kills and freezes a broker, and stops Elasticsearch."""
    actions = {f.action for f in schedule(2, 90)}
    assert actions == {"kill", "broker-kill", "broker-freeze", "es-stop"}


@pytest.mark.timeout(900)
def test_short_chaos_run_loses_and_duplicates_nothing(tmp_path: Path, kafka_bootstrap: str) -> None:
    """90 s of load under SIGKILLs, a broker kill and freeze and an Elasticsearch stop:
    every record recorded as written is in Elasticsearch exactly once."""
    report_path = tmp_path / "chaos.json"
    proc = subprocess.run(
        [BIN, "chaos", "--seed", "2", "--duration", "90", "--report", str(report_path)],
        capture_output=True,
        text=True,
        timeout=880,
        check=False,
    )
    assert report_path.exists(), proc.stderr[-4000:]
    report = json.loads(report_path.read_text())
    summary = {k: report[k] for k in ("written", "lost", "duplicated", "dead_lettered")}
    print(json.dumps(summary))
    assert report["written"] > 5000
    assert report["lost"] == 0, summary
    assert report["duplicated"] == 0, summary
    assert report["unexpected_exits"] == []
    assert proc.returncode == 0
    assert report_path.with_suffix(".svg").read_text().startswith("<svg")
