"""Under gevent and eventlet monkey-patching, the delivery worker is a real OS thread: a
greenlet that logs in a tight loop and never yields still has every record delivered."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from handler_helpers import consume

CHILD = Path(__file__).with_name("green_child.py")
RECORDS = 20_000


@pytest.mark.timeout(300)
@pytest.mark.parametrize("library", ["gevent", "gevent-late", "eventlet"])
def test_tight_loop_greenlet_does_not_starve_delivery(
    library: str, kafka_bootstrap: str, topic: str
) -> None:
    """20,000 records logged by a greenlet that never yields, which then waits without
    yielding: all are delivered meanwhile, none dropped, each in the topic exactly once.
    gevent-late: the handler's thread started before the patch, and never enters gevent."""
    argv = [sys.executable, "-W", "ignore", str(CHILD), library, kafka_bootstrap, topic]
    proc = subprocess.run(
        [*argv, str(RECORDS)], capture_output=True, text=True, timeout=180, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    got = [c.record["message"] for c in consume(kafka_bootstrap, topic, RECORDS)]
    assert sorted(got) == sorted(f"green-{i}" for i in range(RECORDS))
