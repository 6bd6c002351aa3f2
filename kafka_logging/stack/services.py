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


def _cluster(settings: StackSettings) -> str:
    """The cluster id all nodes of this data directory share; a node count that changed
    against formatted storage is refused (the KRaft voter set is fixed at format time)."""
    path = settings.data_dir / "kafka-cluster.json"
    if path.is_file():
        known = json.loads(path.read_text())
        if known["nodes"] != settings.kafka_nodes:
            raise StackError(
                f"the Kafka data in {settings.data_dir} was formatted for {known['nodes']} "
                f"node(s), not {settings.kafka_nodes}. Use another --data-dir, or `stack down` "
                f"and remove {settings.data_dir} to start afresh."
            )
        cluster_id: str = known["cluster_id"]
        return cluster_id
    cluster_id = _cluster_id()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cluster_id": cluster_id, "nodes": settings.kafka_nodes}))
    return cluster_id


def prepare_kafka(
    settings: StackSettings, jdk: Jdk, progress: fetch.Progress, node: int = 1
) -> Launch:
    lib = fetch.ensure_kafka(settings.cache_dir, KAFKA_VERSION, progress)
    cluster_id = _cluster(settings)
    nodes = range(1, settings.kafka_nodes + 1)
    home = settings.kafka_node_dir(node)
    data = home / "data"
    data.mkdir(parents=True, exist_ok=True)
    props = home / "server.properties"
    _render(
        "server.properties",
        props,
        node_id=node,
        voters=",".join(f"{n}@127.0.0.1:{settings.kafka_node_controller_port(n)}" for n in nodes),
        port=settings.kafka_node_port(node),
        controller_port=settings.kafka_node_controller_port(node),
        log_dirs=data,
        replication=min(3, settings.kafka_nodes),
        min_isr=2 if settings.kafka_nodes >= 3 else 1,
    )
    shutil.copy(fetch.stack_file("log4j2.properties"), home / "log4j2.properties")
    classpath = f"{lib}/*"
    if not (data / "meta.properties").is_file():
        progress(f"Formatting Kafka storage of node {node} (KRaft)...")
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
                cluster_id,
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
        name="kafka" if node == 1 else f"kafka-{node}",
        argv=argv,
        env=dict(os.environ),
        cwd=home,
        log=home / "kafka.log",
        marker=str(props),
        port=settings.kafka_node_port(node),
        version=KAFKA_VERSION,
        data=data,
        java=f"{jdk.version} ({jdk.home})",
        extra={"bootstrap": settings.kafka_bootstrap, "node_id": str(node)},
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
