"""The two services of the local stack: how each is prepared, started and checked for health."""

from __future__ import annotations

import base64
import json
import os
import pwd
import shutil
import string
import subprocess
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from kafka_logging.stack import fetch
from kafka_logging.stack.errors import StackError
from kafka_logging.stack.java import Jdk
from kafka_logging.stack.settings import (
    ELASTICSEARCH_VERSION,
    ES_USER,
    KAFKA_VERSION,
    StackSettings,
)


@dataclass(frozen=True)
class Launch:
    """Everything needed to start a prepared service and to recognise it later."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    marker: str  # a string only our process's command line carries
    port: int
    version: str
    data: Path
    java: str
    extra: dict[str, str] = field(default_factory=dict)


def _render(template: str, into: Path, **values: object) -> None:
    text = string.Template(fetch.stack_file(template).read_text()).substitute(
        {k: str(v) for k, v in values.items()}
    )
    into.write_text(text)


def _cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, base64url without padding (as StorageTool makes)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


def prepare_kafka(settings: StackSettings, jdk: Jdk, progress: fetch.Progress) -> Launch:
    lib = fetch.ensure_kafka(settings.cache_dir, KAFKA_VERSION, progress)
    home = settings.kafka_dir
    data = home / "data"
    data.mkdir(parents=True, exist_ok=True)
    props = home / "server.properties"
    _render(
        "server.properties",
        props,
        port=settings.kafka_port,
        controller_port=settings.kafka_controller_port,
        log_dirs=data,
    )
    shutil.copy(fetch.stack_file("log4j2.properties"), home / "log4j2.properties")
    classpath = f"{lib}/*"
    if not (data / "meta.properties").is_file():
        progress("Formatting Kafka storage (KRaft)...")
        proc = subprocess.run(
            [
                str(jdk.java),
                "-cp",
                classpath,
                f"-Dlog4j2.configurationFile={home / 'log4j2.properties'}",
                "kafka.tools.StorageTool",
                "format",
                "--ignore-formatted",
                "-t",
                _cluster_id(),
                "-c",
                str(props),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise StackError(f"formatting Kafka storage failed:\n{proc.stdout}{proc.stderr}")
    heap = settings.kafka_heap
    argv = [
        str(jdk.java),
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={home / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={home / 'logs'}",
        "-cp",
        classpath,
        "kafka.Kafka",
        str(props),
    ]
    return Launch(
        name="kafka",
        argv=argv,
        env=dict(os.environ),
        cwd=home,
        log=home / "kafka.log",
        marker=str(props),
        port=settings.kafka_port,
        version=KAFKA_VERSION,
        data=data,
        java=f"{jdk.version} ({jdk.home})",
        extra={"bootstrap": settings.kafka_bootstrap},
    )


def kafka_health(bootstrap: str, timeout: float = 3.0) -> str | None:
    """None when a metadata request succeeds, else why not."""
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415 - only the stack needs it

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    try:
        meta = admin.list_topics(timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - any client error means "not healthy yet"
        return str(exc)
    if not meta.brokers:
        return "metadata names no broker"
    return None


def _es_user() -> str | None:
    """The user Elasticsearch runs as: a system user of ours when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(ES_USER)
    except KeyError:
        proc = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ES_USER],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise StackError(
                f"Elasticsearch refuses to run as root and creating the system user {ES_USER} "
                f"failed: {proc.stderr.strip()}"
            ) from None
    return ES_USER


def _can_reach(user: str, path: Path) -> bool:
    return (
        subprocess.run(
            ["runuser", "-u", user, "--", "test", "-r", str(path)], check=False
        ).returncode
        == 0
    )


def prepare_elasticsearch(settings: StackSettings, jdk: Jdk, progress: fetch.Progress) -> Launch:
    archive = fetch.ensure_elasticsearch_zip(settings.cache_dir, ELASTICSEARCH_VERSION, progress)
    base = settings.es_dir
    home = base / f"elasticsearch-{ELASTICSEARCH_VERSION}"
    if not (home / ".unpacked").is_file():
        progress(f"Unpacking Elasticsearch {ELASTICSEARCH_VERSION}...")
        shutil.rmtree(home, ignore_errors=True)
        fetch.unzip(archive, base)
        (home / ".unpacked").write_text("ok\n")
    data, logs = base / "data", base / "logs"
    data.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    _render(
        "elasticsearch.yml",
        home / "config" / "elasticsearch.yml",
        data_dir=data,
        logs_dir=logs,
        port=settings.es_port,
        transport_port=settings.es_transport_port,
    )
    java_home = jdk.home
    user = _es_user()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(base),
        "ES_JAVA_HOME": str(java_home),
        "ES_JAVA_OPTS": f"-Xms{settings.es_heap} -Xmx{settings.es_heap}",
    }
    argv = [str(home / "bin" / "elasticsearch"), "-p", str(base / "elasticsearch.pid")]
    if user is not None:
        subprocess.run(["chown", "-R", f"{user}:", str(base)], check=True)
        if not _can_reach(user, home / "bin" / "elasticsearch"):
            raise StackError(
                f"Elasticsearch runs as the user {user}, who cannot read {base}: a parent folder "
                f"is closed to other users. Choose a data directory outside it "
                f"(--data-dir or KAFKA_LOGGING_STACK_DIR), e.g. /var/lib/kafka-logging/stack."
            )
        if not _can_reach(user, jdk.java):
            copy = settings.data_dir / f"jdk-{jdk.version}"
            if not copy.is_dir():
                progress(f"Copying JDK {jdk.version} where {user} can read it...")
                shutil.copytree(jdk.home, copy, symlinks=True)
            env["ES_JAVA_HOME"] = str(copy)
        argv = ["runuser", "-u", user, "--", "env", *(f"{k}={v}" for k, v in env.items()), *argv]
    return Launch(
        name="elasticsearch",
        argv=argv,
        env=env,
        cwd=base,
        log=base / "elasticsearch.out",
        marker=str(home / "bin" / "elasticsearch"),
        port=settings.es_port,
        version=ELASTICSEARCH_VERSION,
        data=data,
        java=f"{jdk.version} ({env['ES_JAVA_HOME']})",
        extra={"url": settings.es_url, "user": user or pwd.getpwuid(os.geteuid()).pw_name},
    )


def es_get(url: str, path: str, timeout: float = 3.0) -> dict[str, object]:
    with urllib.request.urlopen(url + path, timeout=timeout) as resp:  # noqa: S310 - our own URL
        body: dict[str, object] = json.load(resp)
        return body


def elasticsearch_health(url: str, timeout: float = 3.0) -> str | None:
    """None when cluster health is yellow or green, else why not."""
    try:
        health = es_get(url, "/_cluster/health", timeout)
    except (OSError, urllib.error.URLError, ValueError) as exc:
        return str(exc)
    status = health.get("status")
    return None if status in ("yellow", "green") else f"cluster health is {status}"
