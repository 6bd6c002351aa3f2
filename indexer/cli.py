"""`kafka-logging index`."""

from __future__ import annotations

import click


@click.command()
@click.option("--config", "config_path", type=click.Path(), required=True)
def index(config_path: str) -> None:
    """Not built yet."""
    raise click.ClickException("`kafka-logging index` is not built yet")
