"""Options shared by `search` and `tail`: parameter types, the filter options, and the
connection settings read from --config."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import click
from click.core import ParameterSource
from pydantic import BaseModel, ConfigDict, Field

from kafka_logging import config as config_module
from kafka_logging.config import ElasticsearchSettings, KafkaSettings
from kafka_logging.errors import ConfigError
from kafka_logging.search import timeparse
from kafka_logging.search.filters import LEVEL_NAMES, Filters
from kafka_logging.search.render import FORMATS


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


def not_empty(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not value.strip():
        raise click.BadParameter("must not be empty")
    return value


def load_config(path: str | None, section: str) -> ConnectionConfig:
    """The file's connection sections; ConfigError if `section` is missing (a typo in a
    section name must not silently fall back to the defaults)."""
    if path is None:
        return ConnectionConfig()
    loaded = config_module.load(path, ConnectionConfig)
    if section not in loaded.model_fields_set:
        raise ConfigError(f"{path} has no `{section}:` section")
    return loaded


def not_on_command_line(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) in (ParameterSource.ENVIRONMENT, ParameterSource.DEFAULT)


def filter_options(func: Any) -> Any:
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


def build_filters(
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
