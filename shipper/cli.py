"""`kafka-logging ship`: load the config, build the shipper, run it until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType
from typing import cast

import click

from kafka_logging.errors import ConfigError, FatalError
from shipper.config import OnCorrupt, load_config


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    required=True,
    help="Shipper YAML config (reference: deploy/shipper.yaml).",
)
@click.option(
    "--check", is_flag=True, help="Validate the config and connectivity, then exit (1 on problems)."
)
@click.option(
    "--on-corrupt-checkpoint",
    type=click.Choice(["fail", "start-from-end", "start-from-beginning"]),
    default=None,
    help="What to do when the checkpoint file is corrupt (default: checkpoint.on_corrupt, fail).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def ship(config_path: str, check: bool, on_corrupt_checkpoint: str | None, log_level: str) -> None:
    """Tail log files into Kafka; checkpoints advance only after Kafka acknowledged."""
    logging.basicConfig(
        level=log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if check:
        from shipper.check import run_checks  # noqa: PLC0415 - only --check needs the admin client

        problems, notes = run_checks(config)
        for note in notes:
            click.echo(f"ok: {note}")
        for problem in problems:
            click.echo(f"problem: {problem}", err=True)
        if problems:
            raise click.ClickException(f"{len(problems)} problem(s) found")
        click.echo("config and connectivity OK")
        return
    from shipper.daemon import Shipper  # noqa: PLC0415

    try:
        shipper = Shipper(config, on_corrupt=cast(OnCorrupt | None, on_corrupt_checkpoint))
    except FatalError as exc:
        raise click.ClickException(str(exc)) from None

    def stop(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("shipper").info("%s: stopping", signal.Signals(signum).name)
        shipper.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        shipper.run()
    except FatalError as exc:
        raise click.ClickException(str(exc)) from None
