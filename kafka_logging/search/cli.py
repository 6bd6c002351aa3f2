"""`kafka-logging search` (Elasticsearch) and `kafka-logging tail` (Kafka): thin commands.

Each loads its connection settings, builds the searcher or the tail, and prints what it
yields through a renderer. Every failure a user can cause or fix is one line on stderr and a
non-zero exit status; Ctrl-C (or SIGTERM) stops quietly with status 130.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from types import FrameType
from typing import Any, TextIO

import click
from click.core import ParameterSource
from pydantic import BaseModel, ConfigDict, Field

from kafka_logging import config as config_module
from kafka_logging.config import ElasticsearchSettings, KafkaSettings
from kafka_logging.errors import ConfigError, FatalError
from kafka_logging.search import timeparse
from kafka_logging.search.filters import LEVEL_NAMES, Filters
from kafka_logging.search.render import FORMATS, Renderer, make_renderer

INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
DEFAULT_ES_URL = "http://127.0.0.1:9200"
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


class ConnectionConfig(BaseModel):
    """The sections search and tail read from a config file; other sections are ignored, so
    the indexer's or the shipper's config file can be passed as it is."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    elasticsearch: ElasticsearchSettings = Field(default_factory=ElasticsearchSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)


class TimeType(click.ParamType):  # type: ignore[type-arg]
    name = "TIME"

    def __init__(self, clock: Callable[[], datetime] = timeparse.utc_now) -> None:
        self._clock = clock

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime) or value is None:
            return value
        if str(value).strip().lower() in ("", "all"):
            return None
        try:
            return timeparse.parse_time(str(value), self._clock())
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class DurationType(click.ParamType):  # type: ignore[type-arg]
    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, timedelta):
            return value
        duration = timeparse.parse_duration(str(value))
        if duration is None:
            self.fail(f"{value!r} is not a duration like 30s, 5m or 1h", param, ctx)
        return duration


def _not_empty(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not value.strip():
        raise click.BadParameter("must not be empty")
    return value


def _load_config(path: str | None, section: str) -> ConnectionConfig:
    """The file's connection sections; ConfigError if `section` is missing (a typo in a
    section name must not silently fall back to the defaults)."""
    if path is None:
        return ConnectionConfig()
    loaded = config_module.load(path, ConnectionConfig)
    if section not in loaded.model_fields_set:
        raise ConfigError(f"{path} has no `{section}:` section")
    return loaded


def _not_on_command_line(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) in (ParameterSource.ENVIRONMENT, ParameterSource.DEFAULT)


def _use_color(choice: str, out: TextIO) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())


def _warn(text: str) -> None:
    click.echo(f"kafka-logging: {text}", err=True)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the command like Ctrl-C does (the json array is still closed)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


Batch = Iterable[Mapping[str, Any]]


def _print_all(ctx: click.Context, batches: Iterable[Batch], renderer: Renderer) -> int:
    """Print until exhausted, flushing after each batch; the number printed.

    Exits 130 on Ctrl-C / SIGTERM, 0 when the reader of a pipe goes away, 1 on a FatalError.
    """
    count = 0
    try:
        with _sigterm_as_interrupt():
            for batch in batches:
                for record in batch:
                    renderer.write(record)
                    count += 1
                renderer.flush()
    except KeyboardInterrupt:
        with contextlib.suppress(BrokenPipeError):
            renderer.close()
        ctx.exit(INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python's exit flush quiet.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        ctx.exit(0)
    except FatalError as exc:
        with contextlib.suppress(BrokenPipeError):
            renderer.close()
        raise click.ClickException(str(exc)) from None
    renderer.close()
    return count


def _common_filter_options(func: Any) -> Any:
    for option in reversed(
        [
            click.option(
                "--service",
                "services",
                multiple=True,
                metavar="NAME",
                help="Only this service.name (repeat for several; case-insensitive).",
            ),
            click.option(
                "--level",
                type=click.Choice(LEVEL_NAMES, case_sensitive=False),
                help="Threshold: this level and above "
                "(trace<debug<info<notice<warning<error<critical).",
            ),
            click.option(
                "--host",
                "hosts",
                multiple=True,
                metavar="NAME",
                help="Only this host.hostname or host.name (repeat for several).",
            ),
            click.option(
                "--format",
                "fmt",
                type=click.Choice(FORMATS),
                default="text",
                show_default=True,
                help="text: readable lines; json: one JSON array; ndjson: one object per line.",
            ),
            click.option(
                "-v", "--verbose", is_flag=True, help="Text: add the stack trace and all fields."
            ),
            click.option(
                "--color",
                type=click.Choice(["auto", "always", "never"]),
                default="auto",
                show_default=True,
                help="Colour text output (auto: on a terminal, unless NO_COLOR is set).",
            ),
            click.option(
                "--config",
                "config_path",
                type=click.Path(dir_okay=False),
                help="YAML file with `elasticsearch:` / `kafka:` sections (TLS, auth); "
                "other sections are ignored.",
            ),
        ]
    ):
        func = option(func)
    return func


def _filters(
    query: tuple[str, ...],
    services: tuple[str, ...],
    hosts: tuple[str, ...],
    level: str | None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Filters:
    try:
        return Filters(
            query=" ".join(query) or None,
            since=since,
            until=until,
            services=services,
            hosts=hosts,
            level=level,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


SEARCH_HELP = """Search the logs in Elasticsearch.

QUERY is a Lucene query string (words are ANDed; default field `message`), e.g.
`payment failed`, `"connection reset"`, `error.type:ValueError`, `labels.env:prod AND
NOT log.logger:urllib3*`. Without QUERY, everything in the time range matches.

Newest first (--reverse: oldest first); the first --limit matches are printed, paging through
a point in time, so large limits work. With --follow, the newest --limit matches are printed
oldest first, then every new match as it becomes searchable, until Ctrl-C.

Exit status: 0 (also when nothing matches), 1 on an error, 2 on a usage mistake,
130 when interrupted (Ctrl-C / SIGTERM).
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
@_common_filter_options
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
    callback=_not_empty,
    help="Index name or pattern to search.",
)
@click.option(
    "--elasticsearch",
    "es_url",
    envvar="ELASTICSEARCH_URL",
    default=DEFAULT_ES_URL,
    show_default=True,
    callback=_not_empty,
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
    from elasticsearch import Elasticsearch  # noqa: PLC0415 - `kafka-logging --help` stays fast

    from kafka_logging.search.es_search import EsSearcher  # noqa: PLC0415

    if follow and until is not None:
        raise click.UsageError("--follow and --until cannot be combined")
    if follow and reverse:
        raise click.UsageError("--follow always prints oldest first; drop --reverse")
    filters = _filters(query, services, hosts, level, since, until)
    try:
        settings = _load_config(config_path, "elasticsearch").elasticsearch
    except FatalError as exc:
        raise click.ClickException(str(exc)) from None
    if not (config_path and _not_on_command_line(ctx, "es_url")):
        settings = settings.model_copy(update={"hosts": [es_url]})
    if timeout is not None:
        settings = settings.model_copy(update={"request_timeout": timeout})
    # One retry for a refused connection; a timeout is not retried (the client's default).
    kwargs = {"max_retries": 1, **settings.client_kwargs()}
    out = sys.stdout
    renderer = make_renderer(fmt, out, color=_use_color(color, out), verbose=verbose)
    url = ", ".join(settings.hosts)
    try:
        client = Elasticsearch(**kwargs)
    except (ValueError, TypeError) as exc:
        raise click.ClickException(f"cannot use Elasticsearch at {url}: {exc}") from None
    with client:
        searcher = EsSearcher(client, index, url=url)
        if follow:
            batches: Iterable[Batch] = searcher.follow(
                filters,
                backlog=limit,
                stop=threading.Event(),
                interval=interval,
                lookback=lookback,
                notice=_warn,
            )
        else:
            batches = [searcher.search(filters, limit, newest_first=not reverse)]
        count = _print_all(ctx, batches, renderer)
    if count == 0 and not follow:
        window = f"since {timeparse.to_iso(since)}" if since else "at any time"
        _warn(f"no records match in {index} {window}")


TAIL_HELP = """Print new records straight from Kafka as they arrive, until Ctrl-C.

Reads every partition of --topic from its end (--from-beginning: from the start; --since:
from the first record Kafka stamped at or after that time) without a consumer group and
without committing offsets, so it never disturbs the indexers.
Records from different partitions are interleaved as they arrive.

QUERY is NOT Lucene: whitespace-separated terms that must all match (quote to group words):
`word` or `"two words"` is a case-insensitive substring of the message; `field:value` means
the dotted field equals value, case-insensitively, with * and ? wildcards
(`log.logger:app.*`, `labels.env:prod`, `error.type:*Error`); `-term` negates a term.

Messages that are not records are reported on stderr and skipped. Exit status: 1 on an
error (Kafka unreachable after --timeout, unknown topic), 2 on a usage mistake, 0 after
--limit records, 130 when interrupted (Ctrl-C / SIGTERM).
"""


@click.command(help=TAIL_HELP)
@click.argument("query", nargs=-1)
@_common_filter_options
@click.option(
    "--topic",
    default="application-logs",
    show_default=True,
    callback=_not_empty,
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
    callback=_not_empty,
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
    filters = _filters(query, services, hosts, level)
    try:
        matches = filters.matcher()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        settings = _load_config(config_path, "kafka").kafka
    except FatalError as exc:
        raise click.ClickException(str(exc)) from None
    if not (config_path and _not_on_command_line(ctx, "bootstrap_servers")):
        settings = settings.model_copy(update={"bootstrap_servers": bootstrap_servers})
    out = sys.stdout
    renderer = make_renderer(fmt, out, color=_use_color(color, out), verbose=verbose)
    try:
        source = KafkaTail(
            settings.client_config(),
            topic,
            from_beginning=from_beginning,
            since=since,
            timeout=timeout,
            warn=_warn,
        )
    except FatalError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        try:
            with _sigterm_as_interrupt():
                partitions = source.start()
        except KeyboardInterrupt:
            ctx.exit(INTERRUPTED)
        except FatalError as exc:
            raise click.ClickException(str(exc)) from None
        where = (
            "the beginning"
            if from_beginning
            else f"{timeparse.to_iso(since)}"
            if since is not None
            else "the end"
        )
        _warn(
            f"tailing {topic} at {settings.bootstrap_servers} ({partitions} partition"
            f"{'s' if partitions != 1 else ''}) from {where}; Ctrl-C to stop"
        )
        stop = threading.Event()
        _print_all(ctx, _take(source.batches(stop, matches=matches), limit), renderer)
    finally:
        source.close()


def _take(batches: Iterable[Sequence[Mapping[str, Any]]], limit: int | None) -> Iterator[Batch]:
    """The batches, cut so that at most `limit` records pass in total (None: no limit)."""
    if limit is None:
        yield from batches
        return
    left = limit
    for batch in batches:
        yield batch[:left]
        left -= min(left, len(batch))
        if left == 0:
            return


__all__ = ["search", "tail"]
