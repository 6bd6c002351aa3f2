"""SIGTERM/SIGINT: stop consuming, drain within the deadline, commit, close, exit 0."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from indexer_support import Running, Setup, ecs_record, produce

from indexer.config import IndexerConfig

pytestmark = pytest.mark.timeout(120)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens once the socket is closed


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_with_elasticsearch_unreachable_exits_0_and_commits_nothing_unresolved(
    setup: Setup,
    sig: signal.Signals,
    spawn_indexer: Callable[[Path], subprocess.Popen[bytes]],
    run_indexer: Callable[[IndexerConfig], Running],
    tmp_path: Path,
) -> None:
    """With Elasticsearch unreachable, the indexer waits for it before joining the group
    (and says so); a signal ends the process with 0 promptly, having consumed and committed
    nothing: a later indexer gets all N."""
    produce(setup.bootstrap, setup.topic, [ecs_record(i) for i in range(300)], partitions=3)
    path = setup.write_config(
        tmp_path / "dead.yaml",
        elasticsearch={"hosts": [f"http://127.0.0.1:{_closed_port()}"], "request_timeout": 2},
        index={"install_template": False},
        shutdown_timeout=2,
    )
    proc = spawn_indexer(path)
    threading.Event().wait(6)  # waiting for the engine, not in the group
    assert proc.poll() is None
    proc.send_signal(sig)
    assert proc.wait(30) == 0
    log = (tmp_path / "indexer-0.log").read_text()
    assert "cannot detect the search engine yet" in log
    assert "not joining the consumer group" in log
    assert "index template" not in log  # install_template is false: it never tried
    assert "assigned" not in log
    assert "nothing consumed" in log
    assert "elastic_transport" not in log  # the indexer speaks for itself, not per request

    running = run_indexer(setup.config())
    assert setup.wait_count(300) == 300
    running.stop()
    assert running.indexer.metrics.indexed._value.get() == 300  # all of them were left to it
