"""IndexerConfig: the one typed configuration of `kafka-logging index`, loaded from YAML.

Every section and key is documented in deploy/indexer.yaml. Unknown keys are rejected
(StrictModel). Durations are in seconds, sizes in bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from kafka_logging import config as shared
from kafka_logging.config import (
    ElasticsearchSettings,
    KafkaSettings,
    LibrdkafkaSettings,
    StrictModel,
    deprecated,
)

MiB = 1024 * 1024

# The indexer's consumer settings unless kafka.consumer (or kafka.librdkafka) says otherwise.
CONSUMER_DEFAULTS: LibrdkafkaSettings = {
    # A SIGKILLed worker keeps its partitions until the group's session times out; Kafka's
    # 45 s default showed as a 45 s indexing stall in the chaos run. The loop keeps polling
    # even while Elasticsearch is down, so a short session is safe.
    "session.timeout.ms": 10_000,
    "heartbeat.interval.ms": 3_000,
    # librdkafka's prefetch (per partition) and fetch size count toward RSS: keep them bounded.
    "queued.max.messages.kbytes": 8192,
    "fetch.max.bytes": 16 * MiB,
    "fetch.wait.max.ms": 100,
}
# The dead-letter producer's, unless kafka.producer says otherwise.
PRODUCER_DEFAULTS: LibrdkafkaSettings = {"linger.ms": 5, "compression.type": "lz4"}

# librdkafka settings acknowledgement-driven committing depends on: not the operator's to change.
OWNED_CONSUMER_KEYS = frozenset(
    {
        "enable.auto.commit",
        "enable.auto.offset.store",
        "partition.assignment.strategy",
        "group.id",
        "auto.offset.reset",
    }
)


class IndexerKafkaSettings(KafkaSettings):
    """`kafka`: the shared connection settings; `consumer` and `producer` start from the
    indexer's defaults (keys left out keep them)."""

    consumer: LibrdkafkaSettings = Field(default_factory=lambda: dict(CONSUMER_DEFAULTS))
    producer: LibrdkafkaSettings = Field(default_factory=lambda: dict(PRODUCER_DEFAULTS))


class ConsumerSettings(StrictModel):
    """The consumer group: what to read and how much of it to hold in memory."""

    topics: list[str] = Field(default_factory=lambda: ["application-logs"], min_length=1)
    group_id: str = Field(default="kafka-logging-indexer", min_length=1)
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    # Records taken from Kafka but not yet resolved, in bytes of message values. Above this
    # the worker pauses its partitions (and keeps polling, so it stays in the group).
    max_buffered_bytes: int = Field(default=32 * MiB, ge=64 * 1024)
    # Messages fetched per consume() call.
    fetch_batch: int = Field(default=1000, ge=1, le=100_000)
    # How often resolved offsets are committed (asynchronously; synchronously on revoke/exit).
    commit_interval: float = Field(default=1.0, gt=0)
    # On revoke: how long to wait for in-flight work of the revoked partitions to finish.
    revoke_timeout: float = Field(default=10.0, ge=0)


class BatchSettings(StrictModel):
    """When a bulk request is sent: whichever of count, bytes and age is reached first."""

    max_docs: int = Field(default=2000, ge=1)
    max_bytes: int = Field(default=5 * MiB, ge=1024)
    max_wait: float = Field(default=0.2, gt=0)
    # Bulk requests in flight at once (threads sharing one thread-safe client).
    concurrency: int = Field(default=2, ge=1, le=32)


class RetrySettings(StrictModel):
    """Retryable failures (429, 5xx, rejected execution, ES down) are retried forever,
    with capped exponential backoff and full jitter; nothing is dropped."""

    initial_backoff: float = Field(default=0.1, gt=0)
    max_backoff: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> RetrySettings:
        if self.max_backoff < self.initial_backoff:
            raise ValueError("max_backoff must be >= initial_backoff")
        return self


class IndexSettings(StrictModel):
    """Where documents go, and the index template installed (idempotently) on start."""

    # strftime pattern applied to the record's own @timestamp (UTC).
    pattern: str = "application-logs-%Y.%m.%d"
    template_name: str = "kafka-logging-application-logs"
    install_template: bool = True
    # Template priority, for composing with other templates on the same pattern.
    priority: int = Field(default=200, ge=0)
    shards: int = Field(default=1, ge=1)
    replicas: int = Field(default=1, ge=0)
    refresh_interval: str = "1s"
    # Fields per index before Elasticsearch refuses new ones (mapping explosion guard).
    total_fields_limit: int = Field(default=2000, ge=100)

    @field_validator("pattern")
    @classmethod
    def _valid_pattern(cls, value: str) -> str:
        if "%" not in value:
            raise ValueError("must contain a strftime date (e.g. application-logs-%Y.%m.%d)")
        sample = datetime(2026, 1, 2, tzinfo=UTC).strftime(value)
        if sample != sample.lower() or any(c in sample for c in ' "*\\<|,>/?#:'):
            raise ValueError(f"gives {sample!r}, not a valid Elasticsearch index name")
        if "*" in value:
            raise ValueError("must not contain '*'")
        return value

    @property
    def template_pattern(self) -> str:
        """The index pattern the template applies to: the part before the date, then '*'."""
        return self.pattern.split("%", 1)[0] + "*"


class DlqSettings(StrictModel):
    """The dead-letter topic: permanent failures go there, with the reason, and only then
    are their offsets committed."""

    topic: str = Field(default="application-logs.dlq", min_length=1)
    # Deprecated: the dead-letter producer's settings are kafka.producer now (these still
    # apply, over kafka.producer).
    librdkafka: LibrdkafkaSettings = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _old_passthrough(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("librdkafka"):
            deprecated("dlq.librdkafka is now kafka.producer (dlq.librdkafka still applies)")
        return data


class SchemaRegistrySettings(StrictModel):
    """Where Confluent-wire-format Avro finds its writer schemas (url unset: the schema
    shipped in kafka_logging is used)."""

    url: str | None = None
    # Other SchemaRegistryClient settings: basic.auth.user.info, ssl.ca.location, ...
    config: dict[str, str | int | float | bool] = Field(default_factory=dict)


class MetricsSettings(shared.MetricsSettings):
    """Prometheus `/metrics` and `/health` on one HTTP port: `enabled`, `host`, `port` as in
    every daemon (`enabled: false` turns it off, `port: 0` takes any free port)."""

    port: int = Field(default=9466, ge=0, le=65535)
    # Health says "stalled" when nothing could be indexed for this long while work is waiting.
    stall_after: float = Field(default=10.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _port_zero_meant_off(cls, data: Any) -> Any:
        # Until this release `port: 0` turned the indexer's endpoint off. Without an explicit
        # `enabled` it still does, with a warning; `enabled: true, port: 0` takes a free port.
        if isinstance(data, dict) and data.get("port") == 0 and "enabled" not in data:
            deprecated(
                "metrics.port: 0 to turn the endpoint off is now metrics.enabled: false"
                " (with enabled: true, port 0 takes any free port)"
            )
            return {**data, "enabled": False}
        return data


class IndexerConfig(StrictModel):
    kafka: IndexerKafkaSettings = Field(default_factory=IndexerKafkaSettings)
    elasticsearch: ElasticsearchSettings = Field(default_factory=ElasticsearchSettings)
    consumer: ConsumerSettings = Field(default_factory=ConsumerSettings)
    batch: BatchSettings = Field(default_factory=BatchSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    dlq: DlqSettings = Field(default_factory=DlqSettings)
    schema_registry: SchemaRegistrySettings = Field(default_factory=SchemaRegistrySettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    # SIGTERM/SIGINT: stop consuming, then finish in-flight work within this deadline.
    shutdown_timeout: float = Field(default=30.0, ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="after")
    def _no_commit_overrides(self) -> IndexerConfig:
        for name, passed in (
            ("librdkafka", self.kafka.librdkafka),
            ("consumer", self.kafka.consumer),
        ):
            owned = sorted(OWNED_CONSUMER_KEYS & set(passed))
            if owned:
                raise ValueError(
                    f"kafka.{name} must not set {', '.join(owned)}: the indexer sets them itself"
                    " (offsets are committed only after acknowledgement; use consumer.* options)"
                )
        return self


def load(path: str | Path) -> IndexerConfig:
    """The configuration in a YAML file (+ KAFKA_LOGGING__* overrides). Raises ConfigError."""
    return shared.load(path, IndexerConfig)
