"""`kafka-logging setup` and `kafka-logging prune`.

Both read the indexer's config file when given one (`--config indexer.yaml`), so topic names,
the index pattern and the template settings have one source of truth; without it they use the
indexer's defaults. `--bootstrap-servers` / `--elasticsearch` override the connection.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from kafka_logging.errors import KafkaLoggingError
from kafka_logging.ops.durations import parse_duration

if TYPE_CHECKING:
    from indexer.config import IndexerConfig
    from kafka_logging.engines.engine import Engine

F = TypeVar("F", bound=Callable[..., Any])


def _connection_options(func: F) -> F:
    func = click.option(
        "--elasticsearch",
        "es_url",
        envvar="ELASTICSEARCH_URL",
        help="Elasticsearch URL [env ELASTICSEARCH_URL; "
        "default from --config or http://127.0.0.1:9200].",
    )(func)
    func = click.option(
        "--bootstrap-servers",
        envvar="KAFKA_BOOTSTRAP_SERVERS",
        help="Kafka bootstrap servers [env KAFKA_BOOTSTRAP_SERVERS; "
        "default from --config or 127.0.0.1:9092].",
    )(func)
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="The indexer's YAML config: connection (TLS/auth), topics, index pattern, template.",
    )(func)


def _load(config_path: Path | None, bootstrap: str | None, es_url: str | None) -> IndexerConfig:
    from indexer.config import IndexerConfig  # noqa: PLC0415 - the CLI composes the packages
    from kafka_logging.config import load, parse  # noqa: PLC0415

    config = load(config_path, IndexerConfig) if config_path else parse({}, IndexerConfig)
    updates: dict[str, Any] = {}
    if bootstrap:
        updates["kafka"] = config.kafka.model_copy(update={"bootstrap_servers": bootstrap})
    if es_url:
        updates["elasticsearch"] = config.elasticsearch.model_copy(update={"hosts": [es_url]})
    return config.model_copy(update=updates) if updates else config


def _duration_ms(text: str, option: str) -> str:
    try:
        return str(int(parse_duration(text).total_seconds() * 1000))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


@click.command()
@_connection_options
@click.option("--partitions", default=6, show_default=True, help="Partitions of each log topic.")
@click.option(
    "--replication-factor", type=int, help="Replicas per partition [default: min(3, brokers)]."
)
@click.option("--retention", default="7d", show_default=True, help="How long Kafka keeps logs.")
@click.option("--dlq-partitions", default=1, show_default=True)
@click.option("--dlq-retention", default="30d", show_default=True)
@click.option(
    "--compression",
    type=click.Choice(["zstd", "lz4", "snappy", "gzip", "producer"]),
    default="zstd",
    show_default=True,
)
@click.option(
    "--timeout", default=20.0, show_default=True, help="Seconds to wait for Kafka to answer."
)
@click.option("--kibana-url", help="Also create the Kibana data view and import saved objects.")
@click.option("--kibana-user", envvar="KIBANA_USER")
@click.option("--kibana-password", envvar="KIBANA_PASSWORD", help="[env KIBANA_PASSWORD]")
@click.option(
    "--saved-objects",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of Kibana .ndjson files [default: the ones shipped in deploy/kibana].",
)
def setup(
    config_path: Path | None,
    bootstrap_servers: str | None,
    es_url: str | None,
    partitions: int,
    replication_factor: int | None,
    retention: str,
    dlq_partitions: int,
    dlq_retention: str,
    compression: str,
    timeout: float,
    kibana_url: str | None,
    kibana_user: str | None,
    kibana_password: str | None,
    saved_objects: Path | None,
) -> None:
    """Create or check the topics, the index template and (optionally) Kibana objects.

    Idempotent: run it again and it reports what exists and fixes configs that drifted.
    """
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415

    from indexer.template import install_template  # noqa: PLC0415
    from kafka_logging.engines.client import connect  # noqa: PLC0415
    from kafka_logging.kafka_diag import ErrorCollector  # noqa: PLC0415
    from kafka_logging.ops import kibana, topics  # noqa: PLC0415

    retention_ms = _duration_ms(retention, "--retention")
    dlq_retention_ms = _duration_ms(dlq_retention, "--dlq-retention")
    try:
        config = _load(config_path, bootstrap_servers, es_url)
        log_config = {"retention.ms": retention_ms, "compression.type": compression}
        specs = [
            topics.TopicSpec(name, partitions, replication_factor, log_config)
            for name in config.consumer.topics
        ]
        specs.append(
            topics.TopicSpec(
                config.dlq.topic,
                dlq_partitions,
                replication_factor,
                {"retention.ms": dlq_retention_ms, "compression.type": compression},
            )
        )
        errors = ErrorCollector()
        admin = AdminClient({**config.kafka.admin_config(), **errors.client_config()})
        matches = topics.ensure_topics(admin, specs, click.echo, timeout, errors)
        with connect(config.elasticsearch) as es:
            install_template(es, config.index)
            engine = es.engine()
        click.echo(f"search engine: {engine.name} at {es.url}")
        click.echo(
            f"index template {config.index.template_name}: installed for "
            f"{config.index.pattern} (shards {config.index.shards}, "
            f"replicas {config.index.replicas}, refresh {config.index.refresh_interval})"
        )
        if kibana_url:
            _kibana(kibana, engine, config, kibana_url, kibana_user, kibana_password, saved_objects)
    except KafkaLoggingError as exc:
        raise click.ClickException(str(exc)) from None
    if not matches:
        click.echo("Some topics differ from the spec (see above).", err=True)
        sys.exit(2)


def _kibana(
    kibana: Any,
    engine: Engine,
    config: IndexerConfig,
    url: str,
    user: str | None,
    password: str | None,
    folder: Path | None,
) -> None:
    """Kibana for Elasticsearch, OpenSearch Dashboards for OpenSearch (same saved objects)."""
    from kafka_logging.ops.prune import IndexPattern  # noqa: PLC0415

    client = kibana.for_engine(engine, url, user, password)
    pattern = IndexPattern(config.index.pattern).glob()
    view = client.ensure_data_view(pattern)
    click.echo(f"{client.name} {client.view_kind} {view}: {pattern}, time field @timestamp")
    folder = folder or Path(__file__).parent / "kibana"
    for path in kibana.saved_object_files(folder):
        count = client.import_saved_objects(path)
        click.echo(f"{client.name} saved objects: imported {count} from {path.name}")


@click.command()
@_connection_options
@click.option("--older-than", required=True, help="Delete daily indices older than this, e.g. 30d.")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
def prune(
    config_path: Path | None,
    bootstrap_servers: str | None,
    es_url: str | None,
    older_than: str,
    dry_run: bool,
) -> None:
    """Retention: delete whole daily indices whose day ended more than --older-than ago."""
    from kafka_logging.engines.client import connect  # noqa: PLC0415
    from kafka_logging.ops.prune import IndexPattern  # noqa: PLC0415
    from kafka_logging.ops.prune import prune as run_prune  # noqa: PLC0415

    try:
        age = parse_duration(older_than)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    try:
        config = _load(config_path, bootstrap_servers, es_url)
        pattern = IndexPattern(config.index.pattern)
        with connect(config.elasticsearch) as es:
            victims = _es_call(
                lambda: run_prune(es, pattern, age, datetime.now(UTC), dry_run), config
            )
            click.echo(f"search engine: {es.engine().name} at {es.url}", err=True)
    except KafkaLoggingError as exc:
        raise click.ClickException(str(exc)) from None
    verb = "would delete" if dry_run else "deleted"
    for name in victims:
        click.echo(f"{verb} {name}")
    click.echo(f"{verb} {len(victims)} index(es) older than {older_than} ({pattern.glob()})")


def _es_call(call: Callable[[], list[str]], config: IndexerConfig) -> list[str]:
    from kafka_logging.engines.client import EngineApiError, EngineUnreachable  # noqa: PLC0415

    try:
        return call()
    except EngineUnreachable as exc:
        raise click.ClickException(str(exc)) from None
    except EngineApiError as exc:
        raise click.ClickException(
            f"{', '.join(config.elasticsearch.hosts)} refused: {exc}"
        ) from None
