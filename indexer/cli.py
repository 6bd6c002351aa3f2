"""`kafka-logging index --config indexer.yaml`: load the config, build the Indexer, run it.

SIGTERM/SIGINT stop consuming, drain in-flight work within `shutdown_timeout`, commit what
is resolved, close and exit 0. A configuration mistake prints a message, not a traceback.
"""

from __future__ import annotations

import gc
import logging
import signal
from types import FrameType

import click

from kafka_logging.errors import ConfigError, FatalError


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(),
    required=True,
    help="YAML configuration (reference: deploy/indexer.yaml).",
)
def index(config_path: str) -> None:
    """Index log records from Kafka into Elasticsearch daily indices."""
    from indexer.config import load  # noqa: PLC0415 - the CLI stays light until it runs
    from indexer.consumer import Indexer  # noqa: PLC0415

    try:
        config = load(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
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
