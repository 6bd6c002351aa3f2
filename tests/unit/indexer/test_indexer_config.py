"""IndexerConfig: defaults, strictness, the example in deploy/, the client configs it yields."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.config import IndexerConfig, load
from indexer.consumer import consumer_config, es_client, producer_config
from kafka_logging import config as shared
from kafka_logging.errors import ConfigError

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "indexer.yaml"


def test_the_deploy_example_loads_and_equals_the_defaults() -> None:
    """deploy/indexer.yaml documents every key with its default value."""
    assert load(DEPLOY) == IndexerConfig()


def test_every_key_of_the_model_appears_in_the_deploy_example() -> None:
    """No option is left undocumented in the example."""
    text = DEPLOY.read_text()
    for name, section in IndexerConfig.model_fields.items():
        assert f"{name}:" in text
        annotation = section.annotation
        for key in getattr(annotation, "model_fields", {}):
            assert f"  {key}:" in text, f"{name}.{key} missing from {DEPLOY}"


def test_unknown_keys_are_rejected_and_named() -> None:
    """A typo anywhere is a ConfigError naming each bad key."""
    with pytest.raises(ConfigError) as err:
        shared.parse({"batch": {"max_doc": 5}, "indxe": {}}, IndexerConfig, environ={})
    assert "batch.max_doc: unknown key" in str(err.value)
    assert "indxe: unknown key" in str(err.value)


def test_commit_settings_cannot_be_overridden_through_librdkafka() -> None:
    """enable.auto.commit and friends belong to the indexer: refused with a clear message."""
    with pytest.raises(ConfigError, match=r"enable\.auto\.commit"):
        shared.parse(
            {"kafka": {"librdkafka": {"enable.auto.commit": True}}}, IndexerConfig, environ={}
        )


@pytest.mark.parametrize("pattern", ["Logs-%Y", "logs-*-%Y", "logs", "logs/%Y"])
def test_bad_index_patterns_are_rejected(pattern: str) -> None:
    """Upper case, wildcards, no date, or characters Elasticsearch forbids."""
    with pytest.raises(ConfigError, match=r"index\.pattern"):
        shared.parse({"index": {"pattern": pattern}}, IndexerConfig, environ={})


def test_consumer_config_commits_only_manually_with_cooperative_sticky() -> None:
    """Auto commit and auto offset store off, cooperative-sticky, the group and passthrough."""
    config = shared.parse(
        {
            "kafka": {"librdkafka": {"session.timeout.ms": 6000}},
            "consumer": {"group_id": "g1"},
        },
        IndexerConfig,
        environ={},
    )
    conf = consumer_config(config)
    assert conf["enable.auto.commit"] is False
    assert conf["enable.auto.offset.store"] is False
    assert conf["partition.assignment.strategy"] == "cooperative-sticky"
    assert conf["group.id"] == "g1"
    assert conf["session.timeout.ms"] == 6000


def test_producer_config_is_idempotent_with_acks_all() -> None:
    """The dead-letter producer cannot lose or duplicate on retries."""
    config = shared.parse({"dlq": {"librdkafka": {"linger.ms": 50}}}, IndexerConfig, environ={})
    conf = producer_config(config)
    assert (conf["enable.idempotence"], conf["acks"], conf["linger.ms"]) == (True, "all", 50)


def test_tls_and_auth_reach_both_clients() -> None:
    """SASL/TLS settings go to librdkafka, basic auth and CA to the Elasticsearch client."""
    config = shared.parse(
        {
            "kafka": {
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": "SCRAM-SHA-512",
                "sasl_username": "u",
                "sasl_password": "${PW}",
                "ssl_ca_location": "/ca.pem",
            },
            "elasticsearch": {
                "hosts": ["https://127.0.0.1:9200"],
                "username": "elastic",
                "password": "p",
                "ca_certs": "/ca.pem",
            },
        },
        IndexerConfig,
        environ={"PW": "secret"},
    )
    conf = consumer_config(config)
    assert conf["sasl.password"] == "secret"
    assert conf["security.protocol"] == "SASL_SSL"
    kwargs = config.elasticsearch.client_kwargs()
    assert kwargs["basic_auth"] == ("elastic", "p")
    assert kwargs["ca_certs"] == "/ca.pem"


def test_the_es_client_does_not_retry_by_itself() -> None:
    """Retries are per item in the indexer; the client's own are off (max_retries=0)."""
    client = es_client(IndexerConfig())
    assert client._transport.max_retries == 0
    client.close()


def test_dead_workers_release_partitions_within_ten_seconds_unless_overridden() -> None:
    """The group session is 10 s by default (a killed worker's partitions move on quickly);
    the operator's librdkafka passthrough still wins."""
    default = consumer_config(shared.parse({}, IndexerConfig, environ={}))
    assert default["session.timeout.ms"] == 10_000
    custom = shared.parse(
        {"kafka": {"librdkafka": {"session.timeout.ms": 45000}}}, IndexerConfig, environ={}
    )
    assert consumer_config(custom)["session.timeout.ms"] == 45000
