"""`stack up/down/status` decisions that need no running service."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kafka_logging.stack import manager, procs
from kafka_logging.stack.errors import StackError
from kafka_logging.stack.settings import StackSettings


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _settings(tmp_path: Path, **ports: int) -> StackSettings:
    return StackSettings(cache_dir=tmp_path / "cache", data_dir=tmp_path / "data", **ports)


def test_port_in_use_by_a_stranger_is_a_clear_error(tmp_path: Path, listener: int) -> None:
    """A port taken by another process stops `up` at once, naming the port and the service."""
    with pytest.raises(StackError, match=rf"port {listener} for kafka is already in use"):
        manager.up(_settings(tmp_path, kafka_port=listener), lambda _: None, only=["kafka"])


def test_stale_pid_record_is_removed(tmp_path: Path, listener: int) -> None:
    """A recorded pid that is no longer ours is reported as stale and dropped, not trusted."""
    settings = _settings(tmp_path, kafka_port=listener)
    settings.data_dir.mkdir(parents=True)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    entry = {
        "name": "kafka",
        "pid": int(dead.stdout),
        "port": listener,
        "version": "x",
        "marker": "/no/such/server.properties",
        "log": "l",
        "data": "d",
        "java": "j",
        "started_at": 0.0,
        "extra": {},
    }
    settings.state_file.write_text(json.dumps({"version": 1, "services": {"kafka": entry}}))
    said: list[str] = []
    with pytest.raises(StackError, match="already in use"):
        manager.up(settings, said.append, only=["kafka"])
    assert any("stale" in line for line in said)
    assert manager.load_state(settings) == {}


def test_corrupt_state_file_is_a_clear_error(tmp_path: Path) -> None:
    """An unreadable stack.json names the file instead of raising a JSON traceback."""
    settings = _settings(tmp_path)
    settings.data_dir.mkdir(parents=True)
    settings.state_file.write_text("{not json")
    with pytest.raises(StackError, match=r"stack\.json is not valid JSON"):
        manager.load_state(settings)


def test_status_of_a_stack_never_started(tmp_path: Path) -> None:
    """Status without any state reports both services as not running."""
    report = manager.status(_settings(tmp_path))
    assert report["services"] == {"kafka": {"running": False}, "elasticsearch": {"running": False}}


def test_is_ours_rejects_a_reused_pid() -> None:
    """A live pid whose command line lacks our marker is not taken for our service."""
    assert procs.is_ours(1, "kafka.Kafka /var/lib/kafka-logging") is False


def test_stop_group_terminates_the_whole_group(tmp_path: Path) -> None:
    """SIGTERM reaches the leader and its children; nothing is left in the group."""
    script = (
        "import subprocess, sys, time;"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        "time.sleep(60)"
    )
    pid = procs.spawn([sys.executable, "-c", script], env={}, cwd=tmp_path, log=tmp_path / "log")
    assert procs.group_members(pid)
    assert procs.stop_group(pid, timeout=10) is False
    assert procs.group_members(pid) == []
