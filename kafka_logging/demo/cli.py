"""`kafka-logging demo`."""

from __future__ import annotations

import sys
import time

import click

from kafka_logging.errors import KafkaLoggingError


@click.command()
@click.option(
    "--bootstrap-servers",
    envvar="KAFKA_BOOTSTRAP_SERVERS",
    default="127.0.0.1:9092",
    show_default=True,
)
@click.option(
    "--elasticsearch",
    "es_url",
    envvar="ELASTICSEARCH_URL",
    default="http://127.0.0.1:9200",
    show_default=True,
)
@click.option("--records", default=50, show_default=True, help="Orders the sample app logs.")
@click.option(
    "--timeout",
    default=120.0,
    show_default=True,
    help="Seconds to wait for everything to be searchable.",
)
@click.option("--keep", is_flag=True, help="Keep the work folder (configs, daemon logs).")
def demo(bootstrap_servers: str, es_url: str, records: int, timeout: float, keep: bool) -> None:
    """Run the whole pipeline on the local stack and show that the counts match.

    Starts an indexer and a shipper, runs a sample app that logs through KafkaHandler
    (including an exception and extra fields) and writes a log file the shipper tails, waits
    until everything is searchable, prints it with `search`, and compares counts.
    Bring the stack up first: `kafka-logging stack up` (`make demo` does both).
    """
    from kafka_logging.demo.run import run_demo  # noqa: PLC0415
    from kafka_logging.stack.services import elasticsearch_health, kafka_health  # noqa: PLC0415

    for what, problem in (
        (f"Kafka at {bootstrap_servers}", kafka_health(bootstrap_servers, timeout=5)),
        (f"Elasticsearch at {es_url}", elasticsearch_health(es_url, timeout=5)),
    ):
        if problem is not None:
            raise click.ClickException(
                f"{what} is not reachable ({problem}). Start it with `kafka-logging stack up`."
            )
    start = time.monotonic()

    def say(message: str) -> None:
        click.secho(f"[demo {time.monotonic() - start:5.1f}s] {message}", fg="cyan", err=True)

    try:
        ok = run_demo(bootstrap_servers, es_url, records, timeout, keep, say)
    except KafkaLoggingError as exc:
        raise click.ClickException(str(exc)) from None
    if not ok:
        click.secho("Counts do not match.", fg="red", err=True)
        sys.exit(1)
    click.secho("Every record is in Elasticsearch, exactly once.", fg="green", err=True)
