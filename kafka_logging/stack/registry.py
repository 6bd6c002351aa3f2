"""A schema registry for tests of Avro in Confluent's wire format: Apicurio Registry.

Confluent's own registry is not on Maven Central; Apicurio Registry is
(`io.apicurio:apicurio-registry-app:<version>:tar.gz:all`, ~150 MB, a Quarkus app run with
`java -jar quarkus-run.jar`, in-memory storage by default). It serves Confluent's API under
`/apis/ccompat/v7`, which confluent-kafka's SchemaRegistryClient speaks. The 3.x builds
need Java 21 or newer.

    home = ensure_registry(default_cache_dir(), progress=print)   # mvn, first run only
    running = start_registry(home, port=8081, workdir=Path("/tmp/reg"))
    ... SchemaRegistryClient({"url": running.url}) ...
    stop_registry(running)
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from kafka_logging.stack import procs
from kafka_logging.stack.errors import StackError
from kafka_logging.stack.fetch import Progress, _run_mvn
from kafka_logging.stack.java import find_jdk

APICURIO_VERSION = "3.3.3"
APICURIO_MIN_JAVA = 21
APICURIO_ARTIFACT = "io.apicurio:apicurio-registry-app:{version}:tar.gz:all"
CCOMPAT_PATH = "/apis/ccompat/v7"
_MARKER = "-Dkafka-logging.service=schema-registry"


@dataclass(frozen=True)
class RunningRegistry:
    pid: int
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The Confluent-compatible API (what SchemaRegistryClient wants as `url`)."""
        return self.base_url + CCOMPAT_PATH


def ensure_registry(
    cache_dir: Path, version: str = APICURIO_VERSION, progress: Progress = lambda _: None
) -> Path:
    """The unpacked Apicurio Registry (the folder holding quarkus-run.jar), fetched once."""
    home = cache_dir / f"apicurio-registry-{version}"
    if (home / ".complete").is_file():
        return home
    progress(f"Fetching Apicurio Registry {version} from Maven Central (first run, ~150 MB)...")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".apicurio-") as tmp:
        work = Path(tmp)
        _run_mvn(
            [
                "dependency:copy",
                f"-Dartifact={APICURIO_ARTIFACT.format(version=version)}",
                f"-DoutputDirectory={work}",
            ],
            work,
            f"Apicurio Registry {version}",
        )
        archive = work / f"apicurio-registry-app-{version}-all.tar.gz"
        if not archive.is_file():
            raise StackError(f"mvn ran but {archive.name} did not appear")
        unpacked = work / "unpacked"
        with tarfile.open(archive) as tar:
            tar.extractall(unpacked, filter="data")
        runner = next(unpacked.rglob("quarkus-run.jar"), None)
        if runner is None:
            raise StackError(f"{archive.name} holds no quarkus-run.jar")
        shutil.rmtree(home, ignore_errors=True)
        runner.parent.rename(home)
        (home / ".complete").write_text(f"{version}\n")
    progress(f"  Apicurio Registry {version} in {home}")
    return home


def start_registry(
    home: Path, port: int, workdir: Path, heap: str = "384m", timeout: float = 120.0
) -> RunningRegistry:
    """Start it on 127.0.0.1:`port` (in-memory storage) and wait until its API answers."""
    jdk = find_jdk(APICURIO_MIN_JAVA, "Apicurio Registry")
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "registry.log"
    argv = [
        str(jdk.java),
        f"-Xmx{heap}",
        _MARKER,
        f"-Dquarkus.http.port={port}",
        "-Dquarkus.http.host=127.0.0.1",
        "-Dquarkus.management.enabled=false",
        "-Dquarkus.otel.enabled=false",
        "-jar",
        str(home / "quarkus-run.jar"),
    ]
    env = {**os.environ, "JAVA_HOME": str(jdk.home)}
    pid = procs.spawn(argv, env=env, cwd=workdir, log=log)
    running = RunningRegistry(pid, port, log)
    deadline = time.monotonic() + timeout
    waiting = threading.Event()
    while not _answers(running.url + "/subjects"):
        if not _alive(pid):
            raise StackError(f"Apicurio Registry exited while starting:\n{procs.tail(log)}")
        if time.monotonic() > deadline:
            stop_registry(running)
            raise StackError(
                f"Apicurio Registry did not answer on port {port} in {timeout:.0f}s:\n"
                f"{procs.tail(log)}"
            )
        waiting.wait(0.5)
    return running


def stop_registry(running: RunningRegistry, timeout: float = 20.0) -> None:
    """Stop it (SIGTERM, then SIGKILL after `timeout`)."""
    if procs.is_ours(running.pid, _MARKER):
        procs.stop_group(running.pid, timeout)


def _alive(pid: int) -> bool:
    """Exists and is not a zombie (right after spawn the command line may not be java's yet,
    so the marker cannot tell)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback http
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
