"""`kafka-logging stack up | down | status`."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from kafka_logging.stack import manager
from kafka_logging.stack.engines import DEFAULT_SEARCH_ENGINE, parse_engine
from kafka_logging.stack.errors import StackError
from kafka_logging.stack.settings import (
    CACHE_ENV,
    DATA_ENV,
    StackSettings,
    default_cache_dir,
    default_data_dir,
)

F = TypeVar("F", bound=Callable[..., Any])


def _dirs(func: F) -> F:
    func = click.option(
        "--data-dir",
        type=click.Path(path_type=Path),
        envvar=DATA_ENV,
        help=f"Where the services keep their data and logs [env {DATA_ENV}].",
    )(func)
    return click.option(
        "--cache-dir",
        type=click.Path(path_type=Path),
        envvar=CACHE_ENV,
        help=f"Where downloads are kept [env {CACHE_ENV}; default ~/.cache/kafka-logging].",
    )(func)


def _settings(cache_dir: Path | None, data_dir: Path | None, **options: Any) -> StackSettings:
    return StackSettings(
        cache_dir=cache_dir or default_cache_dir(),
        data_dir=data_dir or default_data_dir(),
        **options,
    )


def _progress(start: float) -> Callable[[str], None]:
    def say(message: str) -> None:
        click.echo(f"[{time.monotonic() - start:6.1f}s] {message}", err=True)

    return say


@click.group()
def stack() -> None:
    """A local Kafka broker and a search engine node (Elasticsearch or OpenSearch), fetched
    from Maven Central."""


@stack.command()
@_dirs
@click.option("--kafka-port", default=9092, show_default=True)
@click.option("--kafka-controller-port", default=9093, show_default=True)
@click.option("--es-port", default=9200, show_default=True)
@click.option("--es-transport-port", default=9300, show_default=True)
@click.option("--es-heap", default="1g", show_default=True, help="Elasticsearch heap (-Xms/-Xmx).")
@click.option("--kafka-heap", default="512m", show_default=True, help="Kafka heap (-Xms/-Xmx).")
@click.option(
    "--secure",
    is_flag=True,
    help="Add SASL_SSL listeners (SCRAM-SHA-512, port + 100) to Kafka and serve Elasticsearch "
    "over HTTPS with basic auth; certificates and passwords are generated under the data dir.",
)
@click.option(
    "--kafka-nodes",
    default=1,
    show_default=True,
    type=click.IntRange(1, 9),
    help="Kafka brokers (KRaft, each also a controller). 3 gives replication 3, "
    "min.insync.replicas 2; node N listens on kafka-port + 2(N-1).",
)
@click.option(
    "--search-engine",
    default=DEFAULT_SEARCH_ENGINE,
    show_default=True,
    envvar="KAFKA_LOGGING_SEARCH_ENGINE",
    help="The search engine to run, PRODUCT:VERSION: elasticsearch:9.2.0, "
    "elasticsearch:8.19.21, opensearch:2.19.1, opensearch:3.x (Maven Central integ-test-zips) "
    "[env KAFKA_LOGGING_SEARCH_ENGINE].",
)
def up(
    cache_dir: Path | None,
    data_dir: Path | None,
    kafka_port: int,
    kafka_controller_port: int,
    es_port: int,
    es_transport_port: int,
    es_heap: str,
    kafka_heap: str,
    kafka_nodes: int,
    secure: bool,
    search_engine: str,
) -> None:
    """Fetch (first run only), start and wait until Kafka and the search engine are healthy."""
    try:
        dist = parse_engine(search_engine)
    except StackError as exc:
        raise click.BadParameter(str(exc), param_hint="--search-engine") from None
    settings = _settings(
        cache_dir,
        data_dir,
        kafka_port=kafka_port,
        kafka_controller_port=kafka_controller_port,
        es_port=es_port,
        es_transport_port=es_transport_port,
        es_heap=es_heap,
        kafka_heap=kafka_heap,
        kafka_nodes=kafka_nodes,
        secure=secure,
        search_engine=dist.spec,
    )
    start = time.monotonic()
    try:
        manager.up(settings, _progress(start))
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"Stack is up after {time.monotonic() - start:.1f}s: "
        f"Kafka {settings.kafka_bootstrap}, {dist.title} {settings.es_url}",
        err=True,
    )


@stack.command()
@_dirs
def down(cache_dir: Path | None, data_dir: Path | None) -> None:
    """Stop both services (SIGTERM, then SIGKILL after a grace period)."""
    try:
        manager.down(_settings(cache_dir, data_dir), _progress(time.monotonic()))
    except StackError as exc:
        raise click.ClickException(str(exc)) from None


@stack.command()
@_dirs
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(cache_dir: Path | None, data_dir: Path | None, as_json: bool) -> None:
    """Versions, pids, ports, data directories and health. Exit 1 unless both are healthy."""
    try:
        report = manager.status(_settings(cache_dir, data_dir))
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(f"data dir: {report['data_dir']}")
        for name, item in report["services"].items():
            if not item["running"] and "version" not in item:
                click.echo(f"{name}: not running")
                continue
            # The search slot names the engine it runs ("opensearch 2.19.1"), like "kafka 4.1.2".
            title = str(item["engine"]).lower() if "engine" in item else f"{name} {item['version']}"
            click.echo(f"{title}: {item['health']}")
            keys: tuple[str, ...] = ("pids", "port", "node_id", "data", "log", "java")
            keys = (*keys, "bootstrap", "url", "user", "secure_bootstrap", "sasl", "auth", "ca")
            for key in (*keys, "cluster"):
                if key in item:
                    click.echo(f"  {key:10} {item[key]}")
    healthy = all(i.get("health") == "healthy" for i in report["services"].values())
    sys.exit(0 if healthy else 1)
