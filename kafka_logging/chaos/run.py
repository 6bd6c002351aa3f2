"""The chaos run: a private 3-broker cluster and Elasticsearch, the whole pipeline as real
processes, a seeded fault schedule, then a comparison of the ground truth with Elasticsearch."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kafka_logging.chaos import verdict
from kafka_logging.chaos.files import SHIPPER_PATTERN, FileWriter
from kafka_logging.chaos.plan import Fault, schedule
from kafka_logging.stack import manager
from kafka_logging.stack.procs import free_port_block
from kafka_logging.stack.settings import StackSettings, private_stack
from kafka_logging.wire.dead_letter import dead_letter_id_of

Say = Callable[[str], None]
CLI = [sys.executable, "-m", "kafka_logging"]
APPS = {"app-0": 2, "app-1": 0, "app-2": 0}  # name -> forked workers


@dataclass
class Options:
    seed: int
    duration: float
    app_rate: float  # records/s per generator
    file_rate: float  # lines/s per file
    drain_timeout: float
    workdir: Path | None
    keep: bool
    search_engine: str = "elasticsearch:9.2.0"


def count_dead_letters(bootstrap: str, dlq: str) -> int:
    """Records in the dead-letter topic `dlq`, each counted once: copies of one record
    (re-read after a rebalance) share a kl.dlq.id. 0 when the topic does not exist."""
    from confluent_kafka import Consumer, TopicPartition  # noqa: PLC0415

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": dlq,
            "enable.auto.commit": False,
        }
    )
    ids: set[str] = set()
    try:
        meta = consumer.list_topics(dlq, timeout=10).topics.get(dlq)
        ends: dict[int, int] = {}
        starts = []
        for partition in meta.partitions if meta is not None else []:
            low, high = consumer.get_watermark_offsets(TopicPartition(dlq, partition), timeout=10)
            if high > low:
                ends[partition] = high
                starts.append(TopicPartition(dlq, partition, low))
        consumer.assign(starts)
        deadline = time.monotonic() + 60
        while ends and time.monotonic() < deadline:
            for message in consumer.consume(1000, 1.0):
                partition, offset = message.partition(), message.offset()
                if message.error() is not None or partition is None or offset is None:
                    continue
                headers = message.headers()
                pairs = list(headers.items()) if isinstance(headers, dict) else headers
                ids.add(dead_letter_id_of(pairs) or f"{dlq}-{partition}-{offset}")
                if offset + 1 >= ends.get(partition, 0):
                    ends.pop(partition, None)
        return len(ids)
    finally:
        consumer.close()


@dataclass
class Run:
    options: Options
    say: Say
    base: Path
    settings: StackSettings = field(init=False)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    timeline: list[tuple[float, int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.settings = private_stack(
            self.base / "stack",
            kafka_nodes=3,
            es_heap="768m",
            search_engine=self.options.search_engine,
            # A restarted node recovers its shards before it is healthy; on a loaded machine
            # that took more than the stack's 180 s (seed 16), and a fault must not end in a
            # node the run stopped for good.
            es_start_timeout=600.0,
            kafka_start_timeout=600.0,
        )
        self.truth_dir = self.base / "truth"
        self.files = FileWriter(
            self.base / "logs",
            files=3,
            lines_per_second=self.options.file_rate,
            rotate_every=max(20, int(self.options.file_rate * 15)),
            seed=self.options.seed,
        )
        self.t0 = time.monotonic()
        self._infra = threading.Lock()
        self._faulting: set[str] = set()  # daemons a fault is killing right now
        self._settled = True  # False while daemons must be running (crashes are noticed)
        self.unexpected_exits: list[str] = []

    # -- configs and processes --------------------------------------------------------------

    def _note(self, message: str) -> None:
        line = f"t={time.monotonic() - self.t0:6.1f}s {message}"
        self.events.append(line)
        self.say(line)

    def _configs(self) -> None:
        bootstrap = self.settings.kafka_bootstrap
        for i in (1, 2):
            config = {
                "kafka": {"bootstrap_servers": bootstrap},
                "elasticsearch": {"hosts": [self.settings.es_url], "request_timeout": 10},
                "index": {"replicas": 0},
                "metrics": {"port": free_port_block(1)},
                "shutdown_timeout": 15,
            }
            (self.base / f"indexer-{i}.yaml").write_text(yaml.safe_dump(config))
        shipper = {
            "kafka": {"bootstrap_servers": bootstrap},
            "inputs": [
                {
                    "paths": [str(self.base / "logs" / "*.log")],
                    "service": "chaos-files",
                    "parser": {"type": "regex", "pattern": SHIPPER_PATTERN},
                }
            ],
            "checkpoint": {"path": str(self.base / "shipper" / "checkpoint.json")},
            "metrics": {"port": free_port_block(1)},
        }
        (self.base / "shipper.yaml").write_text(yaml.safe_dump(shipper))

    def _argv(self, name: str) -> list[str]:
        if name == "shipper":
            return [*CLI, "ship", "--config", str(self.base / "shipper.yaml")]
        if name.startswith("indexer"):
            return [*CLI, "index", "--config", str(self.base / f"{name}.yaml")]
        return [
            sys.executable, "-m", "kafka_logging.chaos.app", name, self.settings.kafka_bootstrap,
            str(self.base / "spool" / name), str(self.truth_dir), str(self.options.app_rate),
            str(APPS[name]),
        ]  # fmt: skip

    def start(self, name: str) -> None:
        log = (self.base / "logs-daemons").joinpath(f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            self._argv(name), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def kill(self, name: str) -> None:
        self._faulting.add(name)
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def terminate(self, name: str, timeout: float = 60) -> int:
        proc = self.procs[name]
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        return proc.returncode

    # -- faults ----------------------------------------------------------------------------

    def _broker_pids(self, name: str) -> list[int]:
        return manager.load_state(self.settings)[name].pids()

    def apply(self, fault: Fault) -> None:
        if fault.action == "kill":
            self._apply(fault)
            return
        # One broker or Elasticsearch fault at a time, each waiting until the previous one has
        # fully recovered (restarts take longer under load than the schedule can know).
        with self._infra:
            try:
                self._apply(fault)
            except Exception as exc:  # noqa: BLE001 - the verdict must name it, not a traceback
                self._note(f"{fault.target} DID NOT COME BACK: {exc}")
                self.unexpected_exits.append(f"{fault.target}: not back after {fault.what()}")

    def _apply(self, fault: Fault) -> None:
        self._note(fault.what())
        wait = threading.Event()
        if fault.action == "kill":
            self.kill(fault.target)
            wait.wait(fault.down_for)
            self.start(fault.target)
            self._faulting.discard(fault.target)
        elif fault.action == "broker-kill":
            for pid in self._broker_pids(fault.target):
                os.kill(pid, signal.SIGKILL)
            manager.down(self.settings, lambda _: None, only=[fault.target])
            wait.wait(fault.down_for)
            manager.up(self.settings, lambda _: None, only=[fault.target])
        elif fault.action == "broker-freeze":
            pids = self._broker_pids(fault.target)
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            wait.wait(fault.down_for)
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        elif fault.action == "es-stop":
            manager.down(self.settings, lambda _: None, only=["elasticsearch"])
            wait.wait(fault.down_for)
            manager.up(self.settings, lambda _: None, only=["elasticsearch"])
        self._note(f"{fault.target} is back")

    # -- measuring -------------------------------------------------------------------------

    def _es(self) -> Any:
        from kafka_logging.engines.client import EngineClient  # noqa: PLC0415

        return EngineClient([self.settings.es_url], request_timeout=30)

    def truth(self) -> dict[str, int]:
        """gen -> number of records recorded as written (seq 0..n-1)."""
        written: dict[str, int] = dict(self.files.written)
        for path in self.truth_dir.glob("*.truth"):
            for line in path.read_text().splitlines():
                gen, _first, end = line.split()
                written[gen] = max(written.get(gen, 0), int(end))
        return written

    def indexed_count(self) -> int:
        try:
            with self._es() as es:
                es.refresh("application-logs-*")
                count: int = es.count("application-logs-*")
                return count
        except Exception:  # noqa: BLE001 - Elasticsearch may be the thing we stopped
            return -1

    def _watch(self) -> None:
        """A daemon that exited outside the fault plan is a failure: note it, restart it."""
        for name, proc in list(self.procs.items()):
            if self._settled or name in self._faulting or proc.poll() is None:
                continue
            self._note(f"{name} EXITED UNEXPECTEDLY with status {proc.returncode}; restarting")
            self.unexpected_exits.append(f"{name}: {proc.returncode}")
            self.start(name)

    def _sample(self, stop: threading.Event) -> None:
        while not stop.wait(5.0):
            self._watch()
            total = sum(self.truth().values())
            self.timeline.append((time.monotonic() - self.t0, total, self.indexed_count()))

    def indexed(self) -> Counter[tuple[str, int]]:
        seen: Counter[tuple[str, int]] = Counter()
        with self._es() as es:
            es.refresh("application-logs-*")
            for hit in es.scan("application-logs-*", source=["chaos"]):
                chaos = (hit.get("_source") or {}).get("chaos") or {}
                if "gen" in chaos and "seq" in chaos:
                    seen[(str(chaos["gen"]), int(chaos["seq"]))] += 1
        return seen

    def _indexed_or_none(self) -> Counter[tuple[str, int]] | None:
        try:
            return self.indexed()
        except Exception:  # noqa: BLE001 - Elasticsearch may still be restarting
            return None

    def dead_lettered(self) -> int:
        """Records dead-lettered, each counted once (see count_dead_letters)."""
        return count_dead_letters(self.settings.kafka_bootstrap, "application-logs.dlq")

    # -- the run ---------------------------------------------------------------------------

    def execute(self) -> dict[str, Any]:
        o = self.options
        faults = schedule(o.seed, o.duration)
        self.say(f"seed {o.seed}: {len(faults)} faults over {o.duration:.0f}s")
        for fault in faults:
            self.say("  " + fault.describe())
        (self.base / "logs-daemons").mkdir(parents=True)
        self.truth_dir.mkdir()
        self.say("starting a 3-broker Kafka cluster and Elasticsearch...")
        manager.up(self.settings, lambda _: None)
        self._configs()
        subprocess.run(
            [*CLI, "setup", "--config", str(self.base / "indexer-1.yaml"), "--partitions", "6"],
            check=True,
            capture_output=True,
        )
        for name in ("indexer-1", "indexer-2", "shipper", *APPS):
            self.start(name)
        self.files.start()
        self._settled = False
        self.t0 = time.monotonic()
        stop_sampling = threading.Event()
        sampler = threading.Thread(target=self._sample, args=(stop_sampling,), daemon=True)
        sampler.start()
        clock = threading.Event()
        running: list[threading.Thread] = []
        for fault in faults:  # each in its own thread: a broker may be down while a kill happens
            clock.wait(max(0.0, fault.at - (time.monotonic() - self.t0)))
            thread = threading.Thread(target=self.apply, args=(fault,), name=fault.target)
            thread.start()
            running.append(thread)
        clock.wait(max(0.0, o.duration - (time.monotonic() - self.t0)))
        for thread in running:
            thread.join()
        self._settled = True
        self._note("load ends: stopping the apps (SIGTERM) and the file writer")
        for name in APPS:
            self.terminate(name)
        self.files.stop()
        truth = self.truth()
        expected = sum(truth.values())
        self._note(f"{expected} records written; draining")
        _, waited = verdict.drain(truth, self._indexed_or_none, self.indexed_count, o.drain_timeout)
        self._note(f"drained in {waited:.0f}s (every ground-truth record seen, or the deadline)")
        stop_sampling.set()
        exits = {name: self.terminate(name) for name in ("shipper", "indexer-1", "indexer-2")}
        seen = self.indexed()
        names = self.files.names()
        lost_runs = verdict.lost(truth, seen, names)
        dup_runs = verdict.duplicated(seen, names)
        lost = sum(f.last - f.first + 1 for f in lost_runs)
        duplicated = sum((f.last - f.first + 1) * (f.copies - 1) for f in dup_runs)
        extra = sum(1 for (g, s) in seen if s >= truth.get(g, 0))
        elapsed = self.timeline[-1][0] if self.timeline else 0.0
        return {
            "seed": o.seed,
            "duration_s": o.duration,
            "faults": [f.describe() for f in faults],
            "written": expected,
            "indexed_documents": sum(seen.values()),
            "lost": lost,
            "duplicated": duplicated,
            "lost_records": [f.as_dict() for f in lost_runs],
            "duplicated_records": [f.as_dict() for f in dup_runs],
            "drain_s": round(waited, 1),
            "dead_lettered": self.dead_lettered(),
            "unconfirmed_but_indexed": extra,
            "generators": len(truth),
            "rotations": len(self.files.rotations),
            "daemon_exit_codes_at_sigterm": exits,
            "throughput_records_per_s": round(expected / o.duration, 1),
            "timeline": [
                {"t": round(t, 1), "written": w, "indexed": i, "lag": (w - i) if i >= 0 else None}
                for t, w, i in self.timeline
            ],
            "events": self.events,
            "unexpected_exits": self.unexpected_exits,
            "elapsed_s": round(elapsed, 1),
        }

    def teardown(self) -> None:
        for name in list(self.procs):
            with contextlib.suppress(Exception):
                self.terminate(name, timeout=10)
        manager.down(self.settings, lambda _: None)


def run_chaos(options: Options, say: Say) -> dict[str, Any]:
    base = options.workdir or Path(tempfile.mkdtemp(prefix="kl-chaos-", dir="/var/tmp"))
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)  # noqa: S103 - Elasticsearch runs as its own user inside
    run = Run(options, say, base)
    try:
        report = run.execute()
    finally:
        run.teardown()
        if not options.keep:
            shutil.rmtree(base, ignore_errors=True)
    return report
