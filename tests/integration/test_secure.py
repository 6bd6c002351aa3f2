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
from kafka_logging.stack.settings import StackSettings, default_cache_dir

BIN = Path(sys.executable).parent / "kafka-logging"


@pytest.fixture(scope="module")
def secure(free_port_block: Any) -> Iterator[StackSettings]:
    """A private stack in secure mode: Kafka SASL_SSL on port + 100, Elasticsearch on HTTPS."""
    base = Path(tempfile.mkdtemp(prefix="kl-secure-", dir="/var/tmp"))
    os.chmod(base, 0o755)
    start = free_port_block(2)
    settings = StackSettings(
        cache_dir=default_cache_dir(),
        data_dir=base,
        kafka_port=start,
        kafka_controller_port=start + 1,
        es_port=free_port_block(1),
        es_transport_port=free_port_block(1),
        kafka_heap="384m",
        es_heap="512m",
        secure=True,
    )
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
