"""Broker outages, process death, fork and shutdown deadlines, against real brokers.

Tests that stop or kill a broker use a private one (make_service), never the shared stack.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from handler_helpers import consume, create_topic, wait_until

from kafka_logging import KafkaHandler

CHILD = Path(__file__).with_name("handler_child.py")


@pytest.fixture
def logger(request: pytest.FixtureRequest) -> Iterator[logging.Logger]:
    log = logging.getLogger(f"it.outage.{request.node.name}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        if isinstance(handler, KafkaHandler):
            handler.close(timeout=2)


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"127.0.0.1:{port}"


def delivered_all(handler: KafkaHandler, timeout: float) -> None:
    wait_until(lambda: handler.flush(1), timeout, "every record delivered")


def once_each(messages: list[str], expected: list[str]) -> None:
    counts = Counter(messages)
    missing = [m for m in expected if m not in counts]
    doubled = [m for m, n in counts.items() if n > 1]
    assert not missing, f"{len(missing)} missing, e.g. {missing[:5]}"
    assert not doubled, f"{len(doubled)} twice, e.g. {doubled[:5]}"
    assert len(messages) == len(expected)


@pytest.mark.timeout(300)
def test_broker_stopped_mid_run_and_restarted(
    make_service: Any, logger: logging.Logger, tmp_path: Path
) -> None:
    """Records logged before, during and after a broker outage all arrive, once each (by
    message and by event.id), in order; and no emit() call blocked on the network."""
    kafka = make_service("kafka")
    create_topic(kafka.address, "outage")
    handler = KafkaHandler(
        kafka.address,
        "outage",
        service_name="outage",
        spool_dir=str(tmp_path / "spool"),
        producer_config={"reconnect.backoff.max.ms": 500},
    )
    logger.addHandler(handler)
    latencies: list[float] = []
    pause = threading.Event()

    def log_batch(prefix: str, n: int) -> None:
        for i in range(n):
            start = time.perf_counter()
            logger.info("%s-%d", prefix, i)
            latencies.append(time.perf_counter() - start)
            if i % 50 == 0:
                pause.wait(0.005)

    log_batch("before", 500)
    assert handler.flush(30)
    stopper = threading.Thread(target=kafka.stop)
    stopper.start()
    log_batch("stopping", 500)
    stopper.join()
    log_batch("down", 1000)
    wait_until(lambda: handler.stats()["kafka_down"], 30, "the handler to notice the outage")
    starter = threading.Thread(target=kafka.start)
    starter.start()
    log_batch("starting", 500)
    starter.join()
    log_batch("after", 500)
    delivered_all(handler, 120)
    stats = handler.stats()
    expected = [f"{p}-{i}" for p, n in
                [("before", 500), ("stopping", 500), ("down", 1000), ("starting", 500),
                 ("after", 500)] for i in range(n)]  # fmt: skip
    got = consume(kafka.address, "outage", len(expected), timeout=90)
    messages = [c.record["message"] for c in got]
    once_each(messages, expected)
    assert messages == expected, "records arrived out of order"
    assert len({c.record["event"]["id"] for c in got}) == len(expected)
    assert stats["spooled"] > 0
    assert stats["replayed"] > 0
    assert stats["dropped_total"] == 0
    latencies.sort()
    p99, worst = latencies[int(len(latencies) * 0.99)], latencies[-1]
    print(f"emit latency during the outage test: p99 {p99 * 1e6:.0f} us, max {worst * 1e3:.1f} ms")
    # Blocking on the network would take seconds (connect/socket timeouts); 250 ms leaves
    # room for a loaded CI machine's scheduling.
    assert worst < 0.25, f"an emit() took {worst * 1000:.1f} ms"


@pytest.mark.timeout(300)
def test_killed_process_spool_is_replayed_by_next_start(make_service: Any, tmp_path: Path) -> None:
    """A process SIGKILLed with records in its spool (broker down): the next process with the
    same spool_dir replays them once the broker is up; every record arrives exactly once."""
    kafka = make_service("kafka")
    create_topic(kafka.address, "killed")
    kafka.stop()
    spool = tmp_path / "spool"
    first = subprocess.Popen(
        [sys.executable, str(CHILD), kafka.address, "killed", str(spool), "first", "300",
         "spool-and-wait"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = first.stdout.readline() if first.stdout else ""
        assert line.startswith("SPOOLED"), line
        assert json.loads(line.split(" ", 1)[1])["spooled"] == 300
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    assert list(spool.glob("*.spool")), "the killed process left no spool"
    kafka.start()
    second = subprocess.run(
        [sys.executable, str(CHILD), kafka.address, "killed", str(spool), "second", "100",
         "deliver"],
        capture_output=True, text=True, timeout=150, check=False,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert "DELIVERED" in second.stdout
    expected = [f"first-{i}" for i in range(300)] + [f"second-{i}" for i in range(100)]
    got = consume(kafka.address, "killed", len(expected), timeout=90)
    messages = [c.record["message"] for c in got]
    once_each(messages, expected)
    assert len({c.record["event"]["id"] for c in got}) == len(expected)
    assert messages[:300] == expected[:300], "the dead process's records were not first"
    assert not list(spool.glob("*.spool")), "replayed spool segments were not removed"


@pytest.mark.timeout(180)
def test_fork_child_gets_its_own_producer(
    kafka_bootstrap: str, topic: str, logger: logging.Logger
) -> None:
    """After os.fork the child ships its own records with a fresh producer; records queued in
    the parent before the fork are sent once, by the parent only."""
    handler = KafkaHandler(kafka_bootstrap, topic, service_name="fork")
    logger.addHandler(handler)
    for i in range(100):
        logger.info("pre-%d", i)
    assert handler.flush(30)
    for i in range(200):
        logger.info("queued-%d", i)
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            for i in range(100):
                logger.info("child-%d", i)
            code = 0 if handler.flush(30) else 2
            handler.close(timeout=5)
        finally:
            os._exit(code)
    for i in range(100):
        logger.info("post-%d", i)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert handler.flush(30)
    expected = (
        [f"pre-{i}" for i in range(100)]
        + [f"queued-{i}" for i in range(200)]
        + [f"child-{i}" for i in range(100)]
        + [f"post-{i}" for i in range(100)]
    )
    got = consume(kafka_bootstrap, topic, len(expected))
    once_each([c.record["message"] for c in got], expected)
    pids = {c.record["message"].split("-")[0]: c.record["process"]["pid"] for c in got}
    assert pids["child"] == pid
    assert pids["post"] == os.getpid()


@pytest.mark.timeout(60)
def test_close_deadline_with_broker_down(logger: logging.Logger, tmp_path: Path) -> None:
    """close() with an unreachable broker returns by its deadline; records are counted as
    dropped without a spool, and kept in the spool with one."""
    address = closed_port()
    plain = KafkaHandler(address, "t", service_name="down")
    spooled = KafkaHandler(address, "t", service_name="down", spool_dir=str(tmp_path))
    logger.addHandler(plain)
    logger.addHandler(spooled)
    for i in range(100):
        logger.info("lost-%d", i)
    start = time.monotonic()
    plain.close(timeout=2)
    spooled.close(timeout=2)
    elapsed = time.monotonic() - start
    assert elapsed < 6, f"close took {elapsed:.1f}s"
    assert plain.stats()["dropped"] == {"shutdown_deadline": 100}
    assert spooled.stats()["spooled"] == 100
    assert spooled.stats()["dropped_total"] == 0
    assert list(tmp_path.glob("*.spool"))


@pytest.mark.timeout(60)
def test_interpreter_exit_with_broker_down_is_bounded(tmp_path: Path) -> None:
    """A process that exits without closing its handler, broker unreachable, still exits
    promptly (logging's exit hook closes the handler with its deadline)."""
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(CHILD), closed_port(), "t", "-", "exit", "50", "exit"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    assert "EXITING" in proc.stdout
    assert elapsed < 15, f"exit took {elapsed:.1f}s"
    assert "Traceback" not in proc.stderr
