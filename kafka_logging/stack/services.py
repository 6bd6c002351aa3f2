"""The two services of the local stack: how each is prepared, started and checked for health."""

from __future__ import annotations

import base64
import json
import logging
import os
import pwd
import shutil
import ssl
import string
import subprocess
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from kafka_logging.stack import fetch, security
from kafka_logging.stack.errors import StackError
from kafka_logging.stack.java import Jdk
from kafka_logging.stack.settings import (
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
        secure_listener=(
            f",SASL_SSL://127.0.0.1:{settings.kafka_secure_port(node)}" if settings.secure else ""
        ),
    )
    extra = {"bootstrap": settings.kafka_bootstrap, "node_id": str(node)}
    if settings.secure:
        tls = security.ensure_certificates(settings)
        sasl = string.Template(fetch.stack_file("server-sasl.properties").read_text())
        with props.open("a") as out:
            out.write("\n" + sasl.substitute(keystore=tls / "server.pem"))
        extra.update(
            secure_bootstrap=f"127.0.0.1:{settings.kafka_secure_port(node)}",
            sasl=f"SCRAM-SHA-512 user {security.KAFKA_USER}, password in "
            f"{security.password_file(settings, security.KAFKA_USER)}",
            ca=str(tls / "ca.crt"),
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
        extra=extra,
    )


def kafka_health(bootstrap: str, timeout: float = 3.0) -> str | None:
    """None when a metadata request succeeds, else why not."""
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415 - only the stack needs it

    from kafka_logging.kafka_diag import ErrorCollector  # noqa: PLC0415

    errors = ErrorCollector()
    admin = AdminClient({"bootstrap.servers": bootstrap, **errors.client_config()})
    try:
        meta = admin.list_topics(timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - any client error means "not healthy yet"
        admin.poll(0)
        return errors.explain(str(exc))
    if not meta.brokers:
        return "metadata names no broker"
    return None


PROBE_TOPIC = "_kafka-logging-stack-probe"


_PROBE_LOG = logging.getLogger("kafka_logging.stack.probe")  # librdkafka's retries: unheard
_PROBE_LOG.propagate = False
_PROBE_LOG.addHandler(logging.NullHandler())


def kafka_ready(bootstrap: str, timeout: float) -> str | None:
    """None once an idempotent producer had one probe record acknowledged, else why not. A
    fresh broker answers metadata before it hands out producer ids; until then every client
    retries and librdkafka reports "Coordinator load in progress" on stderr."""
    from confluent_kafka import Producer  # noqa: PLC0415 - only the stack needs it

    quiet = _PROBE_LOG
    outcome: list[str | None] = []
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "message.timeout.ms": max(1000, int(timeout * 1000)),
            "logger": quiet,
        }
    )
    producer.produce(
        PROBE_TOPIC,
        b"ready?",
        on_delivery=lambda err, _msg: outcome.append(None if err is None else str(err)),
    )
    producer.flush(timeout + 5)
    return outcome[0] if outcome else f"no acknowledgement within {timeout:.0f}s"


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
    """The search engine of the stack: Elasticsearch or OpenSearch (settings.search_engine)."""
    dist = settings.distribution
    if settings.secure and dist.product != "elasticsearch":
        raise StackError(
            f"--secure is for Elasticsearch only; {dist.title}'s integ-test-zip has no "
            "security plugin"
        )
    archive = fetch.ensure_engine_zip(settings.cache_dir, dist, progress)
    base = settings.es_dir
    home = base / dist.home_name
    if not (home / ".unpacked").is_file():
        progress(f"Unpacking {dist.title}...")
        shutil.rmtree(home, ignore_errors=True)
        fetch.unzip(archive, base)
        (home / ".unpacked").write_text("ok\n")
    # Data of one engine cannot be read by another: each keeps its own (the default as before).
    data = base / ("data" if dist.is_default else f"data-{dist.product}-{dist.version}")
    logs = base / "logs"
    data.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    _render(
        "elasticsearch.yml" if dist.product == "elasticsearch" else "opensearch.yml",
        home / "config" / dist.config_file,
        data_dir=data,
        logs_dir=logs,
        port=settings.es_port,
        transport_port=settings.es_transport_port,
        security=str(settings.secure).lower(),
    )
    java_home = jdk.home
    user = _es_user()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(base),
        dist.java_home_var: str(java_home),
        dist.java_opts_var: f"-Xms{settings.es_heap} -Xmx{settings.es_heap}",
    }
    es_extra: dict[str, str] = {"url": settings.es_url, "engine": dist.title}
    if settings.secure:
        es_extra.update(_secure_elasticsearch(settings, home, env, user))
    argv = [str(home / "bin" / dist.product), "-p", str(base / f"{dist.product}.pid")]
    if user is not None:
        subprocess.run(["chown", "-R", f"{user}:", str(base)], check=True)
        if not _can_reach(user, home / "bin" / dist.product):
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
            env[dist.java_home_var] = str(copy)
        argv = ["runuser", "-u", user, "--", "env", *(f"{k}={v}" for k, v in env.items()), *argv]
    return Launch(
        name="elasticsearch",
        argv=argv,
        env=env,
        cwd=base,
        log=base / "elasticsearch.out",
        marker=str(home / "bin" / dist.product),
        port=settings.es_port,
        version=dist.version,
        data=data,
        java=f"{jdk.version} ({env[dist.java_home_var]})",
        extra={**es_extra, "user": user or pwd.getpwuid(os.geteuid()).pw_name},
    )


def _secure_elasticsearch(
    settings: StackSettings, home: Path, env: dict[str, str], user: str | None
) -> dict[str, str]:
    """HTTPS with the local CA's certificate and the `elastic` user's generated password."""
    tls = security.ensure_certificates(settings)
    config_tls = home / "config" / "tls"  # Elasticsearch reads certificates only below config/
    config_tls.mkdir(exist_ok=True)
    for name in ("ca.crt", "server.crt", "server.key"):
        shutil.copy(tls / name, config_tls / name)
    with (home / "config" / "elasticsearch.yml").open("a") as out:
        out.write(
            "xpack.security.http.ssl.enabled: true\n"
            "xpack.security.http.ssl.certificate: tls/server.crt\n"
            "xpack.security.http.ssl.key: tls/server.key\n"
            "xpack.security.http.ssl.certificate_authorities: [tls/ca.crt]\n"
            "xpack.security.transport.ssl.enabled: false\n"
        )
    secret = security.password(settings, security.ES_USER_NAME)
    runner = ["runuser", "-u", user, "--"] if user is not None else []
    tool_env = [f"{k}={v}" for k, v in env.items()]
    keystore = str(home / "bin" / "elasticsearch-keystore")
    if user is not None:
        subprocess.run(["chown", "-R", f"{user}:", str(home / "config")], check=True)
    if not (home / "config" / "elasticsearch.keystore").is_file():
        subprocess.run(
            [*runner, "env", *tool_env, keystore, "create"], capture_output=True, check=True
        )
    proc = subprocess.run(
        [*runner, "env", *tool_env, keystore, "add", "-x", "-f", "bootstrap.password"],
        input=secret,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise StackError(f"setting the elastic password failed: {proc.stderr.strip()[-500:]}")
    return {
        "auth": f"user {security.ES_USER_NAME}, password in "
        f"{security.password_file(settings, security.ES_USER_NAME)}",
        "ca": str(tls / "ca.crt"),
    }


def es_get(
    url: str,
    path: str,
    timeout: float = 3.0,
    auth: tuple[str, str] | None = None,
    ca: str | None = None,
) -> dict[str, object]:
    request = urllib.request.Request(url + path)  # noqa: S310 - our own URL
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    context = ssl.create_default_context(cafile=ca) if url.startswith("https") else None
    with urllib.request.urlopen(request, timeout=timeout, context=context) as resp:  # noqa: S310
        body: dict[str, object] = json.load(resp)
        return body


def elasticsearch_health(
    url: str, timeout: float = 3.0, auth: tuple[str, str] | None = None, ca: str | None = None
) -> str | None:
    """None when cluster health is yellow or green, else why not."""
    try:
        health = es_get(url, "/_cluster/health", timeout, auth, ca)
    except (OSError, urllib.error.URLError, ValueError) as exc:
        return str(exc)
    status = health.get("status")
    return None if status in ("yellow", "green") else f"cluster health is {status}"
