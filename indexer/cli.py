"""`kafka-logging index --config indexer.yaml`: load the config, build the Indexer, run it.

SIGTERM/SIGINT stop consuming, drain in-flight work within `shutdown_timeout`, commit what
is resolved, close and exit 0. A configuration mistake prints a message, not a traceback.
"""

from __future__ import annotations

import gc
import logging
import signal
from types import FrameType
from typing import TYPE_CHECKING

import click

from kafka_logging.errors import ConfigError, FatalError, KafkaLoggingError

if TYPE_CHECKING:
    from indexer.config import IndexerConfig


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(),
    required=True,
    help="YAML configuration (reference: deploy/indexer.yaml).",
)
@click.option(
    "--check",
    is_flag=True,
    help="Validate the config, detect the search engine and its version, then exit "
    "(1 when it is unreachable or unsupported).",
)
def index(config_path: str, check: bool) -> None:
    """Index log records from Kafka into Elasticsearch (8.x, 9.x) or OpenSearch (2.x, 3.x)
    daily indices."""
    from indexer.config import load  # noqa: PLC0415 - the CLI stays light until it runs
    from indexer.consumer import Indexer  # noqa: PLC0415

    try:
        config = load(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if check:
        _check(config)
        return
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The indexer reports unreachable engines itself (rate limited): elastic-transport's
    # INFO line per request and WARNING per failed node would drown that out.
    logging.getLogger("elastic_transport.transport").setLevel(logging.WARNING)
    logging.getLogger("elastic_transport.node_pool").setLevel(logging.ERROR)
    log = logging.getLogger("indexer")
    try:
        indexer = Indexer(config)
    except (FatalError, OSError, ValueError) as exc:
        raise click.ClickException(f"cannot start the indexer: {exc}") from None

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        indexer.stop()

    # Every record allocates a few short-lived containers (decoded dicts, tuples): with the
    # default thresholds the cyclic GC runs every ~700 of them and rescans the buffered
    # records. Nothing here builds cycles at scale, so collect far less often.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if indexer.metrics_port:
        log.info("metrics and health on %s:%d", config.metrics.host, indexer.metrics_port)
    try:
        indexer.run()
    except FatalError as exc:
        raise click.ClickException(str(exc)) from None
    log.info("stopped")


def _check(config: IndexerConfig) -> None:
    """Print the engine behind `elasticsearch.hosts`; ClickException when there is none."""
    from kafka_logging.engines.client import connect  # noqa: PLC0415

    try:
        with connect(config.elasticsearch) as client:
            engine = client.engine()
    except KafkaLoggingError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"config ok; search engine: {engine.name} at {client.url} (supported)")
