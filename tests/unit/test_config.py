"""The shared config loader: strict, complete in its complaints, secrets from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from kafka_logging.config import (
    ElasticsearchSettings,
    KafkaSettings,
    StrictModel,
    load,
    parse,
)
from kafka_logging.errors import ConfigError


class _Daemon(StrictModel):
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    elasticsearch: ElasticsearchSettings = Field(default_factory=ElasticsearchSettings)
    batch_size: int = Field(default=500, gt=0)


def test_every_bad_field_is_named_at_once() -> None:
    """Unknown keys and wrong types are all listed in one error."""
    with pytest.raises(ConfigError) as err:
        parse({"kafka": {"bootstrap": "x"}, "batch_size": "many", "extra": 1}, _Daemon, environ={})
    text = str(err.value)
    assert "kafka.bootstrap: unknown key" in text
    assert "batch_size:" in text
    assert "extra: unknown key" in text


def test_env_variable_supplies_a_secret() -> None:
    """${NAME} in a value is read from the environment given (the process's by default)."""
    config = parse(
        {"elasticsearch": {"username": "u", "password": "${ES_PW}"}},
        _Daemon,
        environ={"ES_PW": "s3cret"},
    )
    assert config.elasticsearch.client_kwargs()["basic_auth"] == ("u", "s3cret")
    assert "s3cret" not in repr(config)


def test_unset_env_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reference to an unset variable is an error naming variable and field."""
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    with pytest.raises(
        ConfigError, match=r"kafka.sasl_password: environment variable NOPE_NOT_SET"
    ):
        parse({"kafka": {"sasl_password": "${NOPE_NOT_SET}"}}, _Daemon, environ={})


def test_env_override_reaches_nested_key() -> None:
    """KAFKA_LOGGING__KAFKA__BOOTSTRAP_SERVERS overrides kafka.bootstrap_servers."""
    config = parse({}, _Daemon, environ={"KAFKA_LOGGING__KAFKA__BOOTSTRAP_SERVERS": "h:1"})
    assert config.kafka.client_config()["bootstrap.servers"] == "h:1"


def test_passthrough_reaches_librdkafka() -> None:
    """Raw librdkafka keys pass through unchanged and win over derived ones."""
    config = parse({"kafka": {"librdkafka": {"linger.ms": 20}}}, _Daemon, environ={})
    assert config.kafka.client_config()["linger.ms"] == 20


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    """A YAML syntax error is a ConfigError naming the file."""
    path = tmp_path / "bad.yaml"
    path.write_text("kafka: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml is not valid YAML"):
        load(path, _Daemon)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """A config path that does not exist is named."""
    with pytest.raises(ConfigError, match=r"cannot read config file .*nope.yaml"):
        load(tmp_path / "nope.yaml", _Daemon)
