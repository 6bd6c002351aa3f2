"""The demo: setup, an indexer and a shipper as real processes, a sample app, then proof.

Everything runs as the product's own commands (`python -m kafka_logging ...`) against the local
stack; the demo only writes their configs, starts them, waits, and compares counts.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from kafka_logging.errors import FatalError
from kafka_logging.stack.procs import free_port_block

Say = Callable[[str], None]
CLI = [sys.executable, "-m", "kafka_logging"]
FILE_PATTERN = r"(?s)^(?P<ts>\S+ \S+) (?P<log__level>[A-Z]+) (?P<log__logger>\S+) (?P<message>.*)$"


@dataclass
class Demo:
    bootstrap: str
    es_url: str
    records: int
    workdir: Path
    timeout: float
    say: Say

    def __post_init__(self) -> None:
        self.run_id = uuid.uuid4().hex[:6]
        self.app_service = f"demo-shop-{self.run_id}"
        self.file_service = f"demo-shop-access-{self.run_id}"
        self.logfile = self.workdir / "access.log"
        self.daemons: list[tuple[str, subprocess.Popen[bytes]]] = []

    # -- configs ---------------------------------------------------------------------------

    def _write_configs(self) -> tuple[Path, Path]:
        indexer = {
            "kafka": {"bootstrap_servers": self.bootstrap},
            "elasticsearch": {"hosts": [self.es_url]},
            "index": {"replicas": 0},
            "metrics": {"port": free_port_block(1)},
        }
        shipper = {
            "kafka": {"bootstrap_servers": self.bootstrap},
            "inputs": [
                {
                    "paths": [str(self.logfile)],
                    "service": self.file_service,
                    "labels": {"demo_run": self.run_id},
                    "parser": {
                        "type": "regex",
                        "pattern": FILE_PATTERN,
                        "timestamp_field": "ts",
                        "timestamp_format": "%Y-%m-%d %H:%M:%S,%f",
                    },
                    "multiline": {"preset": "python"},
                }
            ],
            "checkpoint": {"path": str(self.workdir / "checkpoint.json")},
            "metrics": {"port": free_port_block(1)},
        }
        paths = self.workdir / "indexer.yaml", self.workdir / "shipper.yaml"
        paths[0].write_text(yaml.safe_dump(indexer))
        paths[1].write_text(yaml.safe_dump(shipper))
        return paths

    # -- processes -------------------------------------------------------------------------

    def _start(self, name: str, args: list[str]) -> None:
        log = (self.workdir / f"{name}.log").open("ab")
        proc = subprocess.Popen([*CLI, *args], stdout=log, stderr=subprocess.STDOUT)
        self.daemons.append((name, proc))
        self.say(f"started {name} (pid {proc.pid}, log {self.workdir / f'{name}.log'})")

    def _stop_all(self) -> None:
        for name, proc in reversed(self.daemons):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                self.say(f"stopped {name} (exit {proc.returncode})")

    def _check_alive(self) -> None:
        for name, proc in self.daemons:
            if proc.poll() is not None:
                tail = (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise FatalError(f"{name} exited with {proc.returncode}:\n{tail}")

    # -- proof -----------------------------------------------------------------------------

    def _count(self, service: str) -> int:
        body = json.dumps({"query": {"term": {"service.name": service}}}).encode()
        request = urllib.request.Request(  # noqa: S310 - the local stack's URL
            f"{self.es_url}/application-logs-*/_count",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
                count: int = json.load(resp)["count"]
                return count
        except urllib.error.HTTPError as exc:
            if exc.code in (404, 503):  # no index yet, or its shards are still starting
                return 0
            raise

    def _wait_for(self, expected: dict[str, int]) -> dict[str, int]:
        deadline = time.monotonic() + self.timeout
        waiter = threading.Event()
        counts = dict.fromkeys(expected, 0)
        last = ""
        while time.monotonic() < deadline:
            self._check_alive()
            counts = {s: self._count(s) for s in expected}
            line = ", ".join(f"{s}: {counts[s]}/{n}" for s, n in expected.items())
            if line != last:
                self.say(f"searchable: {line}")
                last = line
            if counts == expected:
                return counts
            waiter.wait(1.0)
        return counts

    def run(self) -> bool:
        indexer_yaml, shipper_yaml = self._write_configs()
        self.say("kafka-logging setup (topics, index template)")
        subprocess.run([*CLI, "setup", "--config", str(indexer_yaml)], check=True)
        self.logfile.touch()
        try:
            self._start("indexer", ["index", "--config", str(indexer_yaml)])
            self._start("shipper", ["ship", "--config", str(shipper_yaml)])
            self.say(
                f"running the sample app: {self.records} orders, logging to Kafka and to a file"
            )
            app = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "kafka_logging.demo.sample_app",
                    self.bootstrap,
                    self.app_service,
                    str(self.logfile),
                    str(self.records),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if app.returncode != 0:
                raise FatalError(f"the sample app failed:\n{app.stderr[-3000:]}")
            report = json.loads(app.stdout.strip().splitlines()[-1])
            self.say(
                f"sample app: {report['sent']} records through KafkaHandler, "
                f"{report['written']} events to {self.logfile.name}"
            )
            expected = {self.app_service: report["sent"], self.file_service: report["written"]}
            counts = self._wait_for(expected)
        finally:
            self._stop_all()
        self.say("the newest records, as `kafka-logging search` shows them:")
        for service in (self.app_service, self.file_service):
            subprocess.run(
                [
                    *CLI,
                    "search",
                    "--elasticsearch",
                    self.es_url,
                    "--service",
                    service,
                    "--since",
                    "1h",
                    "--limit",
                    "5",
                ],
                check=False,
            )
        self.say("errors with their stack traces (`search --level error --verbose`):")
        subprocess.run(
            [
                *CLI,
                "search",
                "--elasticsearch",
                self.es_url,
                "--level",
                "error",
                "--verbose",
                "--limit",
                "1",
                f"service.name:{self.app_service}",
            ],
            check=False,
        )
        ok = counts == expected
        for service, n in expected.items():
            mark = "OK " if counts[service] == n else "MISMATCH"
            self.say(f"{mark} {service}: produced {n}, in Elasticsearch {counts[service]}")
        return ok


def run_demo(
    bootstrap: str, es_url: str, records: int, timeout: float, keep: bool, say: Say
) -> bool:
    workdir = Path(tempfile.mkdtemp(prefix="kafka-logging-demo-"))
    try:
        return Demo(bootstrap, es_url, records, workdir, timeout, say).run()
    finally:
        if keep:
            say(f"work files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
