"""Arbitrary YAML documents never crash config loading: a model or a ConfigError."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import Field

from kafka_logging.config import ElasticsearchSettings, KafkaSettings, StrictModel, load
from kafka_logging.errors import ConfigError


class _Daemon(StrictModel):
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    elasticsearch: ElasticsearchSettings = Field(default_factory=ElasticsearchSettings)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=200))
def test_any_text_is_a_config_or_a_config_error(tmp_path: Path, text: str) -> None:
    """Random text as a config file loads or fails with a ConfigError, never another error."""
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load(path, _Daemon, environ={})
    except ConfigError as exc:
        message = str(exc)
    else:
        message = "loaded"
    assert message


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=200))
def test_any_text_is_a_daemon_config_or_a_config_error(tmp_path: Path, text: str) -> None:
    """The shipper's and the indexer's real config models: random files never crash loading."""
    from indexer.config import IndexerConfig
    from shipper.config import ShipperConfig

    path = tmp_path / "d.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    for model in (IndexerConfig, ShipperConfig):
        try:
            load(path, model, environ={})
        except ConfigError as exc:
            message = str(exc)
        else:
            message = "loaded"
        assert message
