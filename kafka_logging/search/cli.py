"""`kafka-logging search` (Elasticsearch) and `kafka-logging tail` (Kafka): thin commands.

Each loads its connection settings, builds the searcher or the tail, and prints what it
yields through a renderer. Every failure a user can cause or fix is one line on stderr and a
non-zero exit status; Ctrl-C (or SIGTERM) ends between two records, quietly, with status
130.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta

import click

from kafka_logging.errors import FatalError
from kafka_logging.search import timeparse
from kafka_logging.search.options import (
    DurationType,
    TimeType,
    build_filters,
    filter_options,
    load_config,
    not_empty,
    not_on_command_line,
)
from kafka_logging.search.output import (
    INTERRUPTED,
    Batch,
    print_all,
    stop_on_signals,
    take,
    use_color,
    warn,
)
from kafka_logging.search.render import make_renderer

DEFAULT_ES_URL = "http://127.0.0.1:9200"
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


SEARCH_HELP = """Search the logs in Elasticsearch (8.x, 9.x) or OpenSearch (2.x, 3.x).

QUERY is a Lucene query string (words are ANDed; default field `message`), e.g.
`payment failed`, `"connection reset"`, `error.type:ValueError`, `labels.env:prod AND
NOT log.logger:urllib3*`. Without QUERY, everything in the time range matches.

Newest first (--reverse: oldest first); the first --limit matches are printed, paging through
a point in time, so large limits work. With --follow, the newest --limit matches are printed
oldest first, then every new match as it becomes searchable, until Ctrl-C.

Exit status: 0 (also when nothing matches), 1 on an error, 2 on a usage mistake,
130 when interrupted (Ctrl-C / SIGTERM: the record being printed is finished and a json
array closed; a second Ctrl-C forces).
"""


@click.command(help=SEARCH_HELP)
@click.argument("query", nargs=-1)
@click.option(
    "--since",
    type=TimeType(),
    default="24h",
    show_default=True,
    help=f"Oldest time: {timeparse.HELP}; `all` for no limit.",
)
@click.option(
    "--until",
    type=TimeType(),
    default=None,
    help="Newest time, same forms as --since (default: now).",
)
@filter_options
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="At most this many records.",
)
@click.option("--reverse", is_flag=True, help="Oldest first.")
@click.option(
    "-f",
    "--follow",
    is_flag=True,
    help="Keep printing new matches (polling Elasticsearch) until Ctrl-C.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="--follow: seconds between polls.",
)
@click.option(
    "--lookback",
    type=DurationType(),
    default="30s",
    show_default=True,
    help="--follow: also show records stamped up to this long before they became searchable.",
)
@click.option(
    "--index",
    default="application-logs-*",
    show_default=True,
    callback=not_empty,
    help="Index name or pattern to search.",
)
@click.option(
    "--elasticsearch",
    "es_url",
    envvar="ELASTICSEARCH_URL",
    default=DEFAULT_ES_URL,
    show_default=True,
    callback=not_empty,
    help="Elasticsearch URL (env ELASTICSEARCH_URL; a --config file's hosts win over the env).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Seconds to wait for each Elasticsearch answer "
    "(default: the config's request_timeout, 30).",
)
@click.pass_context
def search(
    ctx: click.Context,
    query: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    services: tuple[str, ...],
    level: str | None,
    hosts: tuple[str, ...],
    fmt: str,
    verbose: bool,
    color: str,
    config_path: str | None,
    limit: int,
    reverse: bool,
    follow: bool,
    interval: float,
    lookback: timedelta,
    index: str,
    es_url: str,
    timeout: float | None,
) -> None:
    from kafka_logging.engines.client import EngineClient  # noqa: PLC0415 - --help stays fast
    from kafka_logging.search.es_search import EsSearcher  # noqa: PLC0415

    if follow and until is not None:
        raise click.UsageError("--follow and --until cannot be combined")
    if follow and reverse:
        raise click.UsageError("--follow always prints oldest first; drop --reverse")
    filters = build_filters(query, services, hosts, level, since, until)
    try:
        settings = load_config(config_path, "elasticsearch").elasticsearch
    except FatalError as exc:
        raise click.ClickException(str(exc)) from None
    if not (config_path and not_on_command_line(ctx, "es_url")):
        settings = settings.model_copy(update={"hosts": [es_url]})
    if timeout is not None:
        settings = settings.model_copy(update={"request_timeout": timeout})
    out = sys.stdout
    renderer = make_renderer(fmt, out, color=use_color(color, out), verbose=verbose)
    url = ", ".join(settings.hosts)
    try:
        # One retry for a refused connection; a timeout is not retried.
        client = EngineClient.from_settings(settings, max_retries=1)
    except (ValueError, TypeError, FatalError) as exc:
        raise click.ClickException(f"cannot use the search engine at {url}: {exc}") from None
    with client:
        searcher = EsSearcher(client, index, url=url)
        stop = threading.Event()
        if follow:
            batches: Iterable[Batch] = searcher.follow(
                filters,
                backlog=limit,
                stop=stop,
                interval=interval,
                lookback=lookback,
                notice=warn,
            )
        else:
            batches = [searcher.search(filters, limit, newest_first=not reverse)]
        with stop_on_signals(stop):
            count = print_all(ctx, batches, renderer, stop)
    if follow:
        return
    if count == 0:
        window = f"since {timeparse.to_iso(since)}" if since else "at any time"
        warn(f"no records match in {index} {window}")
    elif count == limit:
        warn(f"stopped at --limit {limit}; there may be more matches")


TAIL_HELP = """Print new records straight from Kafka as they arrive, until Ctrl-C.

Reads every partition of --topic from its end (--from-beginning: from the start; --since:
from the first record Kafka stamped at or after that time) without a consumer group and
without committing offsets, so it never disturbs the indexers.
Records from different partitions are interleaved as they arrive; partitions added to the
topic later are read too (checked every 30 s).

QUERY is NOT Lucene: whitespace-separated terms that must all match (quote to group words):
`word` or `"two words"` is a case-insensitive substring of the message; `field:value` means
the dotted field equals value, case-insensitively, with * and ? wildcards
(`log.logger:app.*`, `labels.env:prod`, `error.type:*Error`); `-term` negates a term.

Messages that are not records are reported on stderr and skipped. Exit status: 1 on an
error (Kafka unreachable after --timeout, unknown topic), 2 on a usage mistake, 0 after
--limit records, 130 when interrupted (Ctrl-C / SIGTERM: the output is completed first;
a second Ctrl-C forces).
"""


@click.command(help=TAIL_HELP)
@click.argument("query", nargs=-1)
@filter_options
@click.option(
    "--topic",
    default="application-logs",
    show_default=True,
    callback=not_empty,
    help="The topic to read.",
)
@click.option("--from-beginning", is_flag=True, help="Start at the oldest retained record.")
@click.option(
    "--since",
    type=TimeType(),
    default=None,
    help=f"Start at the first record Kafka stamped at or after this time ({timeparse.HELP}).",
)
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many matching records (default: run until Ctrl-C).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds to wait for Kafka to answer before giving up.",
)
@click.option(
    "--bootstrap-servers",
    envvar="KAFKA_BOOTSTRAP_SERVERS",
    default=DEFAULT_BOOTSTRAP,
    show_default=True,
    callback=not_empty,
    help="Kafka bootstrap servers (env KAFKA_BOOTSTRAP_SERVERS; "
    "a --config file's value wins over the env).",
)
@click.pass_context
def tail(
    ctx: click.Context,
    query: tuple[str, ...],
    services: tuple[str, ...],
    level: str | None,
    hosts: tuple[str, ...],
    fmt: str,
    verbose: bool,
    color: str,
    config_path: str | None,
    topic: str,
    from_beginning: bool,
    since: datetime | None,
    limit: int | None,
    timeout: float,
    bootstrap_servers: str,
) -> None:
    from kafka_logging.search.kafka_tail import KafkaTail  # noqa: PLC0415

    if from_beginning and since is not None:
        raise click.UsageError("--from-beginning and --since cannot be combined")
    filters = build_filters(query, services, hosts, level)
    try:
        matches = filters.matcher()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        settings = load_config(config_path, "kafka").kafka
    except FatalError as exc:
        raise click.ClickException(str(exc)) from None
    if not (config_path and not_on_command_line(ctx, "bootstrap_servers")):
        settings = settings.model_copy(update={"bootstrap_servers": bootstrap_servers})
    out = sys.stdout
    renderer = make_renderer(fmt, out, color=use_color(color, out), verbose=verbose)
    try:
        source = KafkaTail(
            settings.client_config(),
            topic,
            from_beginning=from_beginning,
            since=since,
            timeout=timeout,
            warn=warn,
        )
    except FatalError as exc:
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()
    try:
        with stop_on_signals(stop):
            try:
                partitions = source.start()
            except KeyboardInterrupt:
                ctx.exit(INTERRUPTED)
            except FatalError as exc:
                raise click.ClickException(str(exc)) from None
            if stop.is_set():
                ctx.exit(INTERRUPTED)
            where = (
                "the beginning"
                if from_beginning
                else f"{timeparse.to_iso(since)}"
                if since is not None
                else "the end"
            )
            warn(
                f"tailing {topic} at {settings.bootstrap_servers} ({partitions} partition"
                f"{'s' if partitions != 1 else ''}) from {where}; Ctrl-C to stop"
            )
            print_all(ctx, take(source.batches(stop, matches=matches), limit), renderer, stop)
    finally:
        source.close()


__all__ = ["search", "tail"]
