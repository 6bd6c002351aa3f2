"""The `kafka-logging` command. Thin: each subcommand lives with its component and is imported
only when it runs, so `kafka-logging stack status` never pays for importing Elasticsearch."""

from __future__ import annotations

import importlib
from typing import Any

import click

from kafka_logging import speedups

# name -> "module:attribute" of a click command; a component registers itself here.
COMMANDS: dict[str, str] = {
    "stack": "kafka_logging.stack.cli:stack",
    "ship": "shipper.cli:ship",
    "index": "indexer.cli:index",
    "setup": "kafka_logging.ops.cli:setup",
    "prune": "kafka_logging.ops.cli:prune",
    "search": "kafka_logging.search.cli:search",
    "tail": "kafka_logging.search.cli:tail",
    "demo": "kafka_logging.demo.cli:demo",
    "chaos": "kafka_logging.chaos.cli:chaos",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        command: Any = getattr(importlib.import_module(module), attr)
        return command  # type: ignore[no-any-return]


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    package_name="kafka-logging", message=f"%(prog)s, version %(version)s, {speedups.describe()}"
)
def main() -> None:
    """Centralised logs for Python services, over Kafka and Elasticsearch."""
