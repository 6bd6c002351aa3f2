"""Typed configuration shared by the daemons: YAML (+ env overrides) into strict pydantic models.

- Unknown keys are rejected and every bad field is named in one ConfigError.
- `${NAME}` in a string value is replaced by the environment variable NAME (an unset one is an
  error), so secrets need not be written in the file; `*_file` options read a secret from a file.
- `KAFKA_LOGGING__SECTION__KEY=value` overrides `section.key` (the value is read as YAML).
- Each component receives only its own section. Raw librdkafka / Elasticsearch client settings
  go through one named passthrough (`kafka.librdkafka`, `elasticsearch.client`), with
  `kafka.consumer` / `kafka.producer` for settings of one kind of client only.
- A renamed or re-meant key keeps working for a while: a validator translates it and logs
  a deprecation WARNING naming the new form (`deprecated()`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from kafka_logging.errors import ConfigError
from kafka_logging.kafka_props import CONSUMER_ONLY, PRODUCER_ONLY

ENV_PREFIX = "KAFKA_LOGGING__"
log = logging.getLogger(__name__)
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """A config section: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _read_secret_file(path: str | None, what: str) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {path}: {exc.strerror}") from None


def deprecated(message: str) -> None:
    """Tell the operator that a configuration form still works but is going away."""
    log.warning("deprecated configuration: %s", message)


LibrdkafkaSettings = dict[str, str | int | float | bool]


class KafkaSettings(StrictModel):
    """How to reach Kafka. TLS/SASL options map to librdkafka's; `librdkafka` passes the rest
    to every client, `consumer` / `producer` to consumers / producers only.

    A property of `librdkafka` that librdkafka documents as consumer-only (or producer-only)
    is given to that kind of client only, so no client prints `CONFWARN ... will be ignored`.
    """

    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    sasl_password_file: str | None = None
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    ssl_key_password: SecretStr | None = None
    librdkafka: LibrdkafkaSettings = Field(default_factory=dict)
    consumer: LibrdkafkaSettings = Field(default_factory=dict)
    producer: LibrdkafkaSettings = Field(default_factory=dict)

    @model_validator(mode="after")
    def _each_to_its_client(self) -> KafkaSettings:
        wrong = [
            f"consumer.{key} is a producer property (put it under kafka.producer)"
            for key in sorted(PRODUCER_ONLY & set(self.consumer))
        ] + [
            f"producer.{key} is a consumer property (put it under kafka.consumer)"
            for key in sorted(CONSUMER_ONLY & set(self.producer))
        ]
        if wrong:
            raise ValueError("; ".join(wrong))
        return self

    def client_config(self) -> dict[str, Any]:
        """The connection settings plus every `librdkafka` key (secrets included)."""
        config = self.connection_config()
        config.update(self.librdkafka)
        return config

    def consumer_config(self) -> dict[str, Any]:
        """What a consumer gets: connection, the default of `consumer`, the shared keys that
        are not producer-only, then `consumer` as written in the file."""
        return self._for_client("consumer", PRODUCER_ONLY)

    def producer_config(self) -> dict[str, Any]:
        """What a producer gets: connection, the default of `producer`, the shared keys that
        are not consumer-only, then `producer` as written in the file."""
        return self._for_client("producer", CONSUMER_ONLY)

    def _for_client(self, name: str, foreign: frozenset[str]) -> dict[str, Any]:
        # A daemon may give `consumer`/`producer` defaults of its own: they rank below the
        # shared `librdkafka` keys, what the operator wrote in the section ranks above them.
        config = self.connection_config()
        config.update(type(self).model_fields[name].get_default(call_default_factory=True))
        config.update({k: v for k, v in self.librdkafka.items() if k not in foreign})
        if name in self.model_fields_set:
            config.update(getattr(self, name))
        return config

    def admin_config(self) -> dict[str, Any]:
        """What an admin client gets: connection and the keys of neither kind."""
        config = self.connection_config()
        only = CONSUMER_ONLY | PRODUCER_ONLY
        config.update({k: v for k, v in self.librdkafka.items() if k not in only})
        return config

    def connection_config(self) -> dict[str, Any]:
        """bootstrap.servers, security.protocol, SASL and TLS (secrets included)."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        password = self.sasl_password.get_secret_value() if self.sasl_password else None
        password = password or _read_secret_file(
            self.sasl_password_file, "kafka.sasl_password_file"
        )
        optional = {
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": password,
            "ssl.ca.location": self.ssl_ca_location,
            "ssl.certificate.location": self.ssl_certificate_location,
            "ssl.key.location": self.ssl_key_location,
            "ssl.key.password": (
                self.ssl_key_password.get_secret_value() if self.ssl_key_password else None
            ),
        }
        config.update({k: v for k, v in optional.items() if v is not None})
        return config


class MetricsSettings(StrictModel):
    """The Prometheus endpoint of a daemon: the same keys and meaning in every daemon.
    `enabled: false` turns it off; `port: 0` takes any free port (logged at start)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)


class ElasticsearchSettings(StrictModel):
    """How to reach Elasticsearch. `client` passes any other elasticsearch-py option."""

    hosts: list[str] = Field(default_factory=lambda: ["http://127.0.0.1:9200"], min_length=1)
    username: str | None = None
    password: SecretStr | None = None
    password_file: str | None = None
    api_key: SecretStr | None = None
    ca_certs: str | None = None
    verify_certs: bool = True
    request_timeout: float = Field(default=30.0, gt=0)
    client: dict[str, Any] = Field(default_factory=dict)

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `elasticsearch.Elasticsearch(...)` (secrets included)."""
        kwargs: dict[str, Any] = {
            "hosts": list(self.hosts),
            "request_timeout": self.request_timeout,
            "verify_certs": self.verify_certs,
        }
        password = self.password.get_secret_value() if self.password else None
        password = password or _read_secret_file(self.password_file, "elasticsearch.password_file")
        if self.username is not None and password is not None:
            kwargs["basic_auth"] = (self.username, password)
        if self.api_key is not None:
            kwargs["api_key"] = self.api_key.get_secret_value()
        if self.ca_certs is not None:
            kwargs["ca_certs"] = self.ca_certs
        kwargs.update(self.client)
        return kwargs


def _expand(value: Any, where: str, missing: list[str], environ: Mapping[str, str]) -> Any:
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                missing.append(f"{where}: environment variable {name} is not set")
                return ""
            return environ[name]

        return _VAR.sub(replace, value)
    if isinstance(value, Mapping):
        return {
            k: _expand(v, f"{where}.{k}" if where else str(k), missing, environ)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_expand(v, f"{where}[{i}]", missing, environ) for i, v in enumerate(value)]
    return value


def _apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in key[len(ENV_PREFIX) :].split("__") if p]
        target = data
        for part in path[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(f"{key}: {'.'.join(path[:-1])} is not a section")
        import yaml  # noqa: PLC0415 - the handler imports this module; it needs no PyYAML

        target[path[-1]] = yaml.safe_load(raw)


def format_validation_error(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: {exc.error_count()} problem(s) in the configuration:"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"  - {where}: {message}")
    return "\n".join(lines)


def parse(
    data: Any, model: type[M], source: str = "config", environ: Mapping[str, str] | None = None
) -> M:
    """Validate already-loaded data (a mapping) into `model`; ConfigError names every problem."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping, not {type(data).__name__}")
    environ = os.environ if environ is None else environ
    _apply_env_overrides(data, environ)
    missing: list[str] = []
    data = _expand(data, "", missing, environ)
    if missing:
        raise ConfigError(f"{source}:\n  - " + "\n  - ".join(missing))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def load(path: str | Path, model: type[M], environ: Mapping[str, str] | None = None) -> M:
    """Read a YAML file into `model`. Every failure is a ConfigError naming the file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    import yaml  # noqa: PLC0415 - the handler imports this module; it needs no PyYAML

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return parse(data, model, str(path), environ)
