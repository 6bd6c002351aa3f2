"""`stack up --secure`: Kafka over SASL_SSL (SCRAM-SHA-512) and Elasticsearch over HTTPS with
basic auth, used through the project's own config, with clear errors for the usual mistakes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from confluent_kafka import Consumer, Producer
from elasticsearch import AuthenticationException, Elasticsearch

from kafka_logging.cli import main
from kafka_logging.config import ElasticsearchSettings, KafkaSettings
from kafka_logging.stack import manager
from kafka_logging.stack.settings import StackSettings, private_stack

BIN = Path(sys.executable).parent / "kafka-logging"


@pytest.fixture(scope="module")
def secure() -> Iterator[StackSettings]:
    """A private stack in secure mode: Kafka SASL_SSL on port + 100, Elasticsearch on HTTPS."""
    base = Path(tempfile.mkdtemp(prefix="kl-secure-", dir="/var/tmp"))
    os.chmod(base, 0o755)
    settings = private_stack(base, secure=True)
    manager.up(settings, print)
    yield settings
    manager.down(settings, print)
    shutil.rmtree(base, ignore_errors=True)


def _kafka(settings: StackSettings, **overrides: Any) -> KafkaSettings:
    values: dict[str, Any] = {
        "bootstrap_servers": f"127.0.0.1:{settings.kafka_secure_port(1)}",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "kafka-logging",
        "sasl_password_file": str(settings.secrets_dir / "kafka-logging.password"),
        "ssl_ca_location": str(settings.tls_dir / "ca.crt"),
    }
    values.update(overrides)
    return KafkaSettings(**values)


def _es(settings: StackSettings, **overrides: Any) -> ElasticsearchSettings:
    values: dict[str, Any] = {
        "hosts": [settings.es_url],
        "username": "elastic",
        "password_file": str(settings.secrets_dir / "elastic.password"),
        "ca_certs": str(settings.tls_dir / "ca.crt"),
    }
    values.update(overrides)
    return ElasticsearchSettings(**values)


def test_sasl_ssl_round_trip_with_the_projects_config(secure: StackSettings) -> None:
    """A record produced and consumed over SASL_SSL with KafkaSettings comes back intact."""
    config = _kafka(secure).client_config()
    topic = f"secure-{uuid.uuid4().hex[:8]}"
    producer = Producer({**config, "enable.idempotence": True})
    producer.produce(topic, b"over tls")
    assert producer.flush(30) == 0
    consumer = Consumer({**config, "group.id": topic, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    try:
        msg = None
        for _ in range(60):
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                break
        assert msg is not None
        assert msg.value() == b"over tls"
    finally:
        consumer.close()


def test_elasticsearch_over_https_with_basic_auth(secure: StackSettings) -> None:
    """ElasticsearchSettings with a password file reaches the node; no credentials is a 401."""
    with Elasticsearch(**_es(secure).client_kwargs()) as es:
        es.index(index="secure-check", document={"message": "hi"}, refresh="wait_for")
        assert es.count(index="secure-check")["count"] == 1
    anonymous = {"hosts": [secure.es_url], "ca_certs": str(secure.tls_dir / "ca.crt")}
    with Elasticsearch(**anonymous) as es, pytest.raises(AuthenticationException):
        es.cluster.health()


def _setup_config(tmp_path: Path, secure: StackSettings, kafka: KafkaSettings) -> Path:
    config = {
        "kafka": kafka.model_dump(mode="json", exclude_none=True, exclude={"sasl_password"})
        | {"sasl_password": "${KL_TEST_KAFKA_PASSWORD}"},
        "elasticsearch": {
            "hosts": [secure.es_url],
            "username": "elastic",
            "password": "${KL_TEST_ES_PASSWORD}",
            "ca_certs": str(secure.tls_dir / "ca.crt"),
        },
        "consumer": {"topics": [f"secure-logs-{uuid.uuid4().hex[:6]}"]},
        "index": {"replicas": 0, "template_name": f"secure-{uuid.uuid4().hex[:6]}"},
    }
    config["kafka"].pop("sasl_password_file", None)
    path = tmp_path / "indexer.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_setup_over_sasl_ssl_with_secrets_from_the_environment(
    secure: StackSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """setup creates topics and the template through TLS/SASL; the secrets never appear."""
    kafka_pw = (secure.secrets_dir / "kafka-logging.password").read_text().strip()
    es_pw = (secure.secrets_dir / "elastic.password").read_text().strip()
    monkeypatch.setenv("KL_TEST_KAFKA_PASSWORD", kafka_pw)
    monkeypatch.setenv("KL_TEST_ES_PASSWORD", es_pw)
    result = CliRunner().invoke(
        main, ["setup", "--config", str(_setup_config(tmp_path, secure, _kafka(secure)))]
    )
    assert result.exit_code == 0, result.output
    assert "created" in result.output
    assert kafka_pw not in result.output
    assert es_pw not in result.output


def test_wrong_password_is_a_clear_error(
    secure: StackSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bad SCRAM credentials: one message naming the authentication failure, exit 1, no secret."""
    monkeypatch.setenv("KL_TEST_KAFKA_PASSWORD", "not-the-password")
    monkeypatch.setenv("KL_TEST_ES_PASSWORD", "x")
    path = _setup_config(tmp_path, secure, _kafka(secure))
    result = CliRunner().invoke(main, ["setup", "--config", str(path), "--timeout", "5"])
    assert result.exit_code == 1
    assert "Authentication failed" in result.output
    assert "not-the-password" not in result.output
    assert "Traceback" not in result.output


def test_plaintext_client_against_the_tls_listener_is_explained(
    secure: StackSettings, es_url: str
) -> None:
    """A PLAINTEXT client pointed at the SASL_SSL port is told the listener wants TLS/SASL."""
    result = CliRunner().invoke(
        main,
        [
            "setup",
            "--bootstrap-servers",
            f"127.0.0.1:{secure.kafka_secure_port(1)}",
            "--elasticsearch",
            es_url,
            "--timeout",
            "5",
        ],
    )
    assert result.exit_code == 1
    assert "TLS or SASL listener" in result.output


def test_status_shows_where_secrets_are_but_never_the_secrets(secure: StackSettings) -> None:
    """`stack status` names the password files, and prints neither password."""
    proc = subprocess.run(
        [BIN, "stack", "status", "--data-dir", secure.data_dir],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "kafka-logging.password" in proc.stdout
    for name in ("kafka-logging", "elastic"):
        assert (secure.secrets_dir / f"{name}.password").read_text().strip() not in proc.stdout


def _wait_for(predicate: Any, timeout: float) -> bool:
    import threading
    import time

    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while time.monotonic() < deadline:
        if predicate():
            return True
        pause.wait(1.0)
    return False


@pytest.mark.timeout(300)
def test_whole_pipeline_over_sasl_ssl_and_https(
    secure: StackSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Handler, shipper, indexer, search and tail all connect with TLS/SASL from config, with
    secrets from the environment and from files, and no secret appears in any output."""
    import logging

    from kafka_logging import KafkaHandler

    kafka_pw = (secure.secrets_dir / "kafka-logging.password").read_text().strip()
    es_pw = (secure.secrets_dir / "elastic.password").read_text().strip()
    env = {**os.environ, "KL_TEST_KAFKA_PASSWORD": kafka_pw}
    suffix = uuid.uuid4().hex[:8]
    topic, service = f"secure-pipeline-{suffix}", f"secure-svc-{suffix}"
    kafka = {
        "bootstrap_servers": f"127.0.0.1:{secure.kafka_secure_port(1)}",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "kafka-logging",
        "sasl_password": "${KL_TEST_KAFKA_PASSWORD}",
        "ssl_ca_location": str(secure.tls_dir / "ca.crt"),
    }
    elasticsearch = {
        "hosts": [secure.es_url],
        "username": "elastic",
        "password_file": str(secure.secrets_dir / "elastic.password"),
        "ca_certs": str(secure.tls_dir / "ca.crt"),
    }
    pattern = f"secure-logs-{suffix}"
    indexer_yaml = tmp_path / "indexer.yaml"
    indexer_yaml.write_text(
        yaml.safe_dump(
            {
                "kafka": kafka,
                "elasticsearch": elasticsearch,
                "consumer": {"topics": [topic], "group_id": f"g-{suffix}"},
                "index": {
                    "pattern": f"{pattern}-%Y.%m.%d",
                    "replicas": 0,
                    "template_name": f"tpl-{suffix}",
                },
                "dlq": {"topic": f"{topic}.dlq"},
                "metrics": {"enabled": False},
            }
        )
    )
    logfile = tmp_path / "app.log"
    logfile.write_text("".join(f"shipped line {i}\n" for i in range(5)))
    shipper_yaml = tmp_path / "shipper.yaml"
    shipper_yaml.write_text(
        yaml.safe_dump(
            {
                "kafka": kafka,
                "output": {"topic": topic},
                "inputs": [{"paths": [str(logfile)], "service": service}],
                "checkpoint": {"path": str(tmp_path / "checkpoint.json")},
                "metrics": {"enabled": False},
            }
        )
    )
    setup = subprocess.run(
        [BIN, "setup", "--config", indexer_yaml, "--partitions", "1"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert setup.returncode == 0, setup.stdout + setup.stderr

    handler = KafkaHandler(
        kafka["bootstrap_servers"],
        topic,
        service_name=service,
        producer_config={
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": "kafka-logging",
            "sasl.password": kafka_pw,
            "ssl.ca.location": str(secure.tls_dir / "ca.crt"),
        },
    )
    logger = logging.getLogger(f"secure.{suffix}")
    logger.addHandler(handler)
    logger.propagate = False
    for i in range(5):
        logger.warning("handler record %d", i)
    handler.close()

    logs = {name: (tmp_path / f"{name}.out").open("w") for name in ("shipper", "indexer")}
    daemons = [
        subprocess.Popen([BIN, "ship", "--config", shipper_yaml], stdout=logs["shipper"],
                         stderr=subprocess.STDOUT, env=env),
        subprocess.Popen([BIN, "index", "--config", indexer_yaml], stdout=logs["indexer"],
                         stderr=subprocess.STDOUT, env=env),
    ]  # fmt: skip
    try:
        search = [BIN, "search", "--config", indexer_yaml, "--index", f"{pattern}-*",
                  "--service", service, "--format", "ndjson", "--since", "1h"]  # fmt: skip

        def ten_found() -> bool:
            out = subprocess.run(search, capture_output=True, text=True, env=env, check=False)
            return out.returncode == 0 and len(out.stdout.splitlines()) == 10

        assert _wait_for(ten_found, 120), (tmp_path / "indexer.out").read_text()[-3000:]
    finally:
        for proc in daemons:
            proc.terminate()
            proc.wait(60)
    tail = subprocess.run(
        [BIN, "tail", "--config", indexer_yaml, "--topic", topic, "--from-beginning",
         "--limit", "10", "--format", "ndjson", "--timeout", "20"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert tail.returncode == 0, tail.stderr
    assert len(tail.stdout.splitlines()) == 10
    outputs = setup.stdout + setup.stderr + tail.stdout + tail.stderr
    outputs += "".join((tmp_path / f"{n}.out").read_text() for n in ("shipper", "indexer"))
    assert kafka_pw not in outputs
    assert es_pw not in outputs


def test_shipper_check_names_a_wrong_password(secure: StackSettings, tmp_path: Path) -> None:
    """`ship --check` with bad SCRAM credentials says authentication failed; no secret shown."""
    config = {
        "kafka": _kafka(
            secure, sasl_password="not-the-password", sasl_password_file=None
        ).model_dump(mode="json", exclude_none=True)
        | {"sasl_password": "not-the-password"},
        "inputs": [{"paths": [str(tmp_path / "*.log")], "service": "s"}],
        "checkpoint": {"path": str(tmp_path / "cp.json")},
        "metrics": {"enabled": False},
    }
    path = tmp_path / "shipper.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = subprocess.run(
        [BIN, "ship", "--check", "--config", path], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1
    assert "Authentication failed" in proc.stdout + proc.stderr
    assert "not-the-password" not in proc.stdout + proc.stderr


@pytest.mark.timeout(180)
def test_daemons_with_a_wrong_password_say_so_once_and_keep_running(
    secure: StackSettings, tmp_path: Path
) -> None:
    """Indexer and shipper with bad SCRAM credentials: no crash, no crash loop, no flood of
    client lines, the reason named, and the password never printed."""
    import time

    kafka = _kafka(secure, sasl_password="wrong-pw-4711", sasl_password_file=None).model_dump(
        mode="json", exclude_none=True
    ) | {"sasl_password": "wrong-pw-4711"}
    (tmp_path / "a.log").write_text("one line\n")
    configs = {
        "index": {"kafka": kafka, "elasticsearch": {"hosts": [secure.es_url]},
                  "metrics": {"enabled": False}},
        "ship": {"kafka": kafka, "inputs": [{"paths": [str(tmp_path / "*.log")], "service": "s"}],
                 "checkpoint": {"path": str(tmp_path / "cp.json")}, "metrics": {"enabled": False}},
    }  # fmt: skip
    procs = {}
    for command, config in configs.items():
        path = tmp_path / f"{command}.yaml"
        path.write_text(yaml.safe_dump(config))
        out = (tmp_path / f"{command}.out").open("w")
        procs[command] = subprocess.Popen(
            [BIN, command, "--config", path], stdout=out, stderr=subprocess.STDOUT
        )
    time.sleep(12)  # a fixed observation window: how often does each daemon repeat itself?
    for command, proc in procs.items():
        assert proc.poll() is None, f"{command} exited: {(tmp_path / f'{command}.out').read_text()}"
        proc.terminate()
        proc.wait(60)
        output = (tmp_path / f"{command}.out").read_text()
        assert "Authentication failed" in output, output[-2000:]
        assert output.count("Authentication failed") <= 2, output[-2000:]
        assert "wrong-pw-4711" not in output
