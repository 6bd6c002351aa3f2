"""Container logs end to end against the real broker: files written byte for byte as
containerd, CRI-O and Docker's json-file driver write them, rotated as kubelet and dockerd
rotate them, a pod deleted with unread bytes, the shipper SIGKILLed mid-way. Every logical
line lands once (by event.id) with its pod's metadata, stream, timestamp and parsed fields."""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from container_writers import conmon_time, containerd, crio, docker, go_rfc3339nano
from shipper_helpers import consume, make_config, write_config

from kafka_logging.handler.ecs import EcsFormatter
from shipper.checkpoint import CheckpointStore
from shipper.container import runtime_time

CLI = str(Path(sys.executable).parent / "kafka-logging")
START = datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)
Key = tuple[str, str, str]  # (pod name or container id, stream, message)


class Node:
    """A node's log directories, and the lines the apps wrote (what must land in Kafka)."""

    def __init__(self, root: Path) -> None:
        self.pods = root / "var" / "log" / "pods"
        self.docker = root / "var" / "lib" / "docker" / "containers"
        self.expected: list[Key] = []
        self.times: dict[Key, str] = {}  # text lines: the runtime's time -> @timestamp
        self.tick = 0
        self.ecs = EcsFormatter(service_name="checkout")

    def stamp(self) -> datetime:
        self.tick += 1
        return START + timedelta(milliseconds=self.tick)

    def pod_dir(self, namespace: str, pod: str, uid: str, container: str) -> Path:
        path = self.pods / f"{namespace}_{pod}_{uid}" / container
        path.mkdir(parents=True, exist_ok=True)
        return path

    def append(self, path: Path, data: bytes) -> None:
        with path.open("ab") as f:
            f.write(data)

    def containerd_ecs(self, path: Path, pod: str, message: str) -> None:
        """An app logging kafka-logging's ECS JSON to stdout under containerd."""
        record = logging.LogRecord("shop", logging.INFO, "app.py", 1, message, None, None)
        self.append(path, containerd("stdout", self.ecs.format(record).encode(), self._go()))
        self.expected.append((pod, "stdout", message))

    def containerd_text(self, path: Path, pod: str, stream: str, text: str) -> None:
        stamp = self._go()
        self.append(path, containerd(stream, text.encode(), stamp))
        self._text(pod, stream, text, stamp)

    def containerd_traceback(self, path: Path, pod: str, n: int) -> None:
        """logging's default format with an exception, written to stderr: one event."""
        lines = [
            f"ERROR:shop:payment {n} failed",
            "Traceback (most recent call last):",
            '  File "/app/pay.py", line 9, in charge',
            "    raise ValueError(n)",
            f"ValueError: {n}",
        ]
        stamp = self._go()
        self.append(path, b"".join(containerd("stderr", x.encode(), stamp) for x in lines))
        self._text(pod, "stderr", "\n".join(lines), stamp)

    def crio_text(self, path: Path, pod: str, text: str, *, newline_alone: bool = False) -> None:
        moment = self.stamp()
        stamp = conmon_time(moment, moment.microsecond * 1000 + 789)
        self.append(path, crio("stdout", text.encode(), stamp, newline_alone=newline_alone))
        self._text(pod, "stdout", text, stamp)

    def docker_text(self, path: Path, cid: str, stream: str, text: str) -> None:
        stamp = self._go()
        self.append(path, docker(stream, text.encode(), stamp))
        self._text(cid, stream, text, stamp)

    def _go(self) -> str:
        moment = self.stamp()
        return go_rfc3339nano(moment, moment.microsecond * 1000)

    def _text(self, who: str, stream: str, text: str, stamp: str) -> None:
        key = (who, stream, text)
        self.expected.append(key)
        normalised = runtime_time(stamp)
        assert normalised is not None
        self.times[key] = normalised


def cut_inside_a_character(n: int) -> str:
    """A line whose 16 KiB cut (containerd) falls inside a 3-byte character."""
    head = f"long-{n}-"
    return head + "a" * (16 * 1024 - len(head) - 1) + "€€" + f"-end-{n}"


def key_of(record: dict[str, Any]) -> Key:
    who = record.get("kubernetes", {}).get("pod", {}).get("name") or record["container"]["id"]
    return who, record["stream"], record["message"]


def without_path(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "log": {k: v for k, v in record["log"].items() if k != "file"}}


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def open_fds_under(pid: int, root: Path) -> list[str]:
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(root)):
            out.append(target)
    return out


def kubelet_rotate(log: Path, suffix: str) -> Path:
    """kubelet: rename <n>.log to <n>.log.<YYYYMMDD-HHMMSS>; the runtime reopens <n>.log."""
    rotated = log.with_name(f"{log.name}.{suffix}")
    os.rename(log, rotated)
    log.touch()
    return rotated


def kubelet_compress(rotated: Path) -> None:
    """kubelet compresses an older rotation: into <name>.tmp, renamed to <name>.gz, the
    original removed."""
    tmp = rotated.with_name(rotated.name + ".tmp")
    with rotated.open("rb") as src, gzip.open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.rename(tmp, rotated.with_name(rotated.name + ".gz"))
    os.unlink(rotated)


@pytest.mark.timeout(400)
@pytest.mark.parametrize("workers", [0, 2], ids=["in-process", "2-workers"])
def test_container_logs_every_line_once_through_rotation_pod_deletion_and_sigkill(
    tmp_path: Path, kafka_bootstrap: str, topic: str, workers: int
) -> None:
    """containerd (ECS JSON on stdout, a traceback on stderr, 16 KiB pieces cut inside a
    character), CRI-O (8 KiB pieces + empty F, a container restart writing 1.log) and Docker
    json-file (16 KiB pieces, .1 rotation): kubelet rotates 0.log while the shipper is
    SIGKILLed and again (with gzip via .tmp) while it runs; a pod directory is removed with
    bytes unread. Every logical line lands once, with pod metadata, stream, runtime time or
    the app's own, and the app's fields; descriptors and per-pod state are released."""
    node = Node(tmp_path / "node")
    uid_a, uid_b, uid_c = (f"{n}0000000-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))
    cid = "c0ffee" + "0" * 58
    web = node.pod_dir("shop", "web-7d9f-x2x7q", uid_a, "app") / "0.log"
    batch_dir = node.pod_dir("jobs", "batch-q9z", uid_b, "worker")
    docker_dir = node.docker / cid
    docker_dir.mkdir(parents=True)
    legacy = docker_dir / f"{cid}-json.log"

    def write_round(r: int, count: int) -> None:
        for i in range(count):
            n = r * 10_000 + i
            node.containerd_ecs(web, "web-7d9f-x2x7q", f"order {n} placed")
            if i % 40 == 0:
                node.containerd_traceback(web, "web-7d9f-x2x7q", n)
                node.containerd_text(web, "web-7d9f-x2x7q", "stdout", cut_inside_a_character(n))
            node.crio_text(batch_dir / f"{min(r, 1)}.log", "batch-q9z", f"step {n}")
            if i % 50 == 0:
                node.crio_text(
                    batch_dir / f"{min(r, 1)}.log",
                    "batch-q9z",
                    f"wide {n} ".ljust(40 * 1024, "w"),
                    newline_alone=True,
                )
                node.docker_text(legacy, cid, "stderr", f"big {n} " + "d" * 20_000)
            node.docker_text(legacy, cid, "stdout", f"<legacy> & {n}")

    inputs = [
        {
            "name": "pods",
            "paths": [str(node.pods / "**" / "*.log")],
            "service": "{container}",
            "dataset": "kubernetes.{namespace}",
            "format": "auto",
            "parser": {"type": "json", "non_json": "text", "preset": "python-json-logger"},
            "multiline": {"preset": "python", "flush_timeout_seconds": 1},
        },
        {
            "name": "docker",
            "paths": [str(node.docker / "*" / "*-json.log")],
            "service": "legacy",
            "format": "auto",
        },
    ]
    config = make_config(
        tmp_path,
        kafka_bootstrap,
        topic,
        inputs,
        limits={"idle_close_seconds": 1, "read_chunk_bytes": 65536},
        output={"workers": workers},
    )
    config_path = write_config(tmp_path / "shipper.yaml", config)

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([CLI, "ship", "--config", str(config_path)])

    write_round(0, 600)
    proc = start()
    try:
        # Mid-way: once it has checkpointed every file and shipped some lines (a file never
        # seen by any run and rotated away to a name the globs do not match is not findable).
        store = CheckpointStore(config.checkpoint.path)
        wait_for(lambda: len(store.load() or []) >= 3, 120, "a checkpoint naming every file")
        assert len(consume(kafka_bootstrap, topic, 300, timeout=120)) >= 300
        proc.send_signal(signal.SIGKILL)  # lines unread, batches unacknowledged
        proc.wait(timeout=10)

        # While it is down: kubelet rotates web's 0.log; the batch container restarts (1.log);
        # dockerd rotates the json file; a new pod appears.
        rotated = kubelet_rotate(web, "20261202-100100")
        os.rename(legacy, legacy.with_name(legacy.name + ".1"))
        write_round(1, 300)
        gone_dir = node.pod_dir("tmp", "gone-abc12", uid_c, "sh")
        for i in range(20_000):
            node.containerd_text(gone_dir / "0.log", "gone-abc12", "stdout", f"gone {i}")

        proc = start()

        def gone_seen(rs: list[dict[str, Any]]) -> bool:
            return any(r.get("kubernetes", {}).get("namespace") == "tmp" for r in rs)

        # the shipper has the pod's file open (it shipped from it) before the pod is deleted
        assert gone_seen(consume(kafka_bootstrap, topic, gone_seen, timeout=120))
        shutil.rmtree(gone_dir.parent)  # the pod is deleted: its file is read through the fd
        kubelet_rotate(web, "20261202-100200")
        kubelet_compress(rotated)  # the older rotation, gzip'ed via .tmp
        write_round(2, 200)

        expected = Counter(node.expected)
        records = consume(
            kafka_bootstrap,
            topic,
            lambda rs: len({r["event"]["id"] for r in rs}) >= len(expected),
            timeout=200,
            idle=3,
        )
        assert len({r["event"]["id"] for r in records}) >= len(expected), "timed out"
        wait_for(
            lambda: len(open_fds_under(proc.pid, tmp_path / "node")) <= 3,
            30,
            "rotated and deleted files to be closed",
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()

    by_id: dict[str, dict[str, Any]] = {}
    for record in records:
        first = by_id.setdefault(record["event"]["id"], record)
        # a duplicate (re-read after SIGKILL) is the same record, with the same id; only the
        # path differs when it was re-read from the rotated file
        assert without_path(first) == without_path(record)
    shipped = Counter(key_of(r) for r in by_id.values())
    missing = expected - shipped
    print(
        "MISSING",
        sorted((k[0][:10], k[1], k[2][:25]) for k in missing)[:5],
        Counter((k[0][:10], k[1]) for k in missing),
        "EXTRA",
        list(shipped - expected)[:3],
    )
    assert shipped == expected  # every logical line once, nothing else

    for record in by_id.values():
        key = key_of(record)
        assert set(record["log"].get("flags", [])) <= {"multiline"}, record
        if key in node.times:
            assert record["@timestamp"] == node.times[key]
        kube = record.get("kubernetes")
        if kube is not None:
            assert record["service"]["name"] == kube["container"]["name"]
            assert record["event"]["dataset"] == f"kubernetes.{kube['namespace']}"
    web_records = [r for r in by_id.values() if r.get("kubernetes", {}).get("namespace") == "shop"]
    assert {r["kubernetes"]["pod"]["uid"] for r in web_records} == {uid_a}
    ecs = [r for r in web_records if r["stream"] == "stdout" and r["message"].startswith("order")]
    assert all(r["log"]["level"] == "info" and r["log"]["logger"] == "shop" for r in ecs)
    assert ecs
    assert not [r for r in ecs if r["@timestamp"].startswith("2026-12-02T10:")]  # the app's time
    restarts = Counter(
        r["kubernetes"]["container"]["restart_count"]
        for r in by_id.values()
        if r.get("kubernetes", {}).get("namespace") == "jobs"
    )
    assert set(restarts) == {0, 1}
    legacy_records = [r for r in by_id.values() if "kubernetes" not in r]
    assert {r["container"]["id"] for r in legacy_records} == {cid}
    assert {r["service"]["name"] for r in legacy_records} == {"legacy"}
    entries = CheckpointStore(config.checkpoint.path).load() or []
    assert not [e for e in entries if "gone-abc12" in e.path]  # the deleted pod's state is gone
