"""Creating and checking the Kafka topics of the pipeline, idempotently."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import AlterConfigOpType, ConfigEntry, ConfigResource
from confluent_kafka.cimpl import NewTopic

from kafka_logging.errors import FatalError, RetryableError
from kafka_logging.kafka_diag import ErrorCollector

Say = Callable[[str], None]


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int | None  # None: min(3, brokers in the cluster)
    config: dict[str, str] = field(default_factory=dict)


def _replication(spec: TopicSpec, brokers: int) -> int:
    return spec.replication_factor if spec.replication_factor is not None else min(3, brokers)


def ensure_topics(
    admin: AdminClient,
    specs: list[TopicSpec],
    say: Say,
    timeout: float = 30,
    errors: ErrorCollector | None = None,
) -> bool:
    """Create missing topics; bring configs of existing ones in line; report what differs.

    Returns True when every topic now matches its spec (a partition count that differs is
    reported, never changed: adding partitions moves keys to other partitions).
    """
    errors = errors or ErrorCollector()
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        admin.poll(0)
        raise RetryableError(f"cannot reach Kafka: {errors.explain(str(exc.args[0]))}") from None
    brokers = len(metadata.brokers)
    ok = True
    missing = [s for s in specs if s.name not in metadata.topics]
    if missing:
        new = [
            NewTopic(s.name, s.partitions, _replication(s, brokers), config=s.config)
            for s in missing
        ]
        for name, future in admin.create_topics(new, request_timeout=timeout).items():
            try:
                future.result()
            except KafkaException as exc:
                raise FatalError(f"creating topic {name} failed: {exc.args[0]}") from None
            spec = next(s for s in missing if s.name == name)
            say(
                f"topic {name}: created ({spec.partitions} partitions, "
                f"replication {_replication(spec, brokers)}, {_describe(spec.config)})"
            )
    for spec in specs:
        if spec in missing:
            continue
        topic = metadata.topics[spec.name]
        partitions = len(topic.partitions)
        replication = len(next(iter(topic.partitions.values())).replicas) if partitions else 0
        if partitions != spec.partitions:
            ok = False
            say(
                f"topic {spec.name}: has {partitions} partitions, the spec says {spec.partitions} "
                "(left as is: changing it moves keys; use kafka-topics --alter deliberately)"
            )
        wanted_rf = _replication(spec, brokers)
        if replication != wanted_rf:
            ok = False
            say(f"topic {spec.name}: replication factor {replication}, the spec says {wanted_rf}")
        changed = _align_config(admin, spec, timeout)
        state = f"config updated: {_describe(changed)}" if changed else "exists and matches"
        say(f"topic {spec.name}: {state}")
    return ok


def _align_config(admin: AdminClient, spec: TopicSpec, timeout: float) -> dict[str, str]:
    """Set every config key of the spec that differs on the broker; the keys changed."""
    if not spec.config:
        return {}
    resource = ConfigResource(ConfigResource.Type.TOPIC, spec.name)
    current: dict[str, Any] = admin.describe_configs([resource])[resource].result(timeout)
    changed = {k: v for k, v in spec.config.items() if k not in current or current[k].value != v}
    if changed:
        entries = [
            ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
            for k, v in changed.items()
        ]
        resource = ConfigResource(ConfigResource.Type.TOPIC, spec.name, incremental_configs=entries)
        try:
            admin.incremental_alter_configs([resource])[resource].result(timeout)
        except KafkaException as exc:
            raise FatalError(
                f"updating the config of topic {spec.name} failed: {exc.args[0]}"
            ) from None
    return changed


def _describe(config: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(config.items())) or "default config"
