"""One `logging.config.dictConfig` dict that is right for every app server and framework.

    import kafka_logging
    LOGGING = kafka_logging.logging_config(bootstrap_servers="kafka-1:9092",
                                           service_name="checkout")

The same dict is what gunicorn's `logconfig_dict`, uvicorn's `log_config`, Django's
`settings.LOGGING`, a Celery `setup_logging` receiver and a plain `dictConfig()` call need,
because it is written against how each of them applies a logging config:

- `disable_existing_loggers` is False. dictConfig's default (True) switches off every logger
  that exists and is not named, e.g. `uvicorn.error` (where uvicorn logs exceptions) and the
  app's module-level loggers: their records would go nowhere, silently.
- Every record reaches exactly one KafkaHandler, on the root logger. Framework loggers
  carry no Kafka handler of their own and propagate, with one exception: gunicorn's
  `gunicorn.error` and `gunicorn.access`, which gunicorn creates with `propagate=False`,
  name the Kafka handler directly and keep `propagate=False` (so they reach it once, also
  when something else later replaces the root logger's handlers).
- gunicorn merges `logconfig_dict` over its own defaults at the top level only; its default
  `loggers` name handlers (`error_console`, `console`) that a replaced `handlers` no longer
  has, and gunicorn refuses to start. This dict names both gunicorn loggers itself.
- uvicorn's own config (when it applied one earlier, e.g. before Django's) gives `uvicorn`
  and `uvicorn.access` console handlers and `propagate=False`; this dict takes those off and
  lets them propagate, so access lines are shipped once. The formatters `default` and
  `access` exist because uvicorn sets `use_colors` on them when asked (`--use-colors`).
- Levels of the framework loggers are left to the framework (`--log-level` keeps working);
  `level` sets the root logger's.

`console=True` also writes every record to stderr (plain text), for local runs.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from kafka_logging.config import format_validation_error
from kafka_logging.errors import ConfigError
from kafka_logging.handler.handler import HandlerOptions

__all__ = ["logging_config"]

HANDLER = "kafka"
CONSOLE = "console"
# Loggers an app server writes to without letting them propagate (gunicorn sets
# propagate=False in code): they name the handlers directly.
SERVER_LOGGERS = ("gunicorn.error", "gunicorn.access")
# Loggers an app server may have given console handlers and propagate=False (uvicorn's
# default config): cleared, propagating to the root logger.
PROPAGATING_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
_TEXT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


def logging_config(
    *, level: str | int = "INFO", console: bool = False, **handler_options: Any
) -> dict[str, Any]:
    """A dictConfig dict shipping every record once to Kafka; `handler_options` are
    KafkaHandler's keyword arguments (`bootstrap_servers` is required). Invalid options
    raise ConfigError now, naming each, rather than when the framework applies the dict."""
    check_options(handler_options)
    handlers: dict[str, Any] = {HANDLER: {"class": "kafka_logging.KafkaHandler", **handler_options}}
    names = [HANDLER]
    if console:
        handlers[CONSOLE] = {
            "class": "logging.StreamHandler",
            "formatter": "default",
            "stream": "ext://sys.stderr",
        }
        names.append(CONSOLE)
    loggers: dict[str, Any] = {
        name: {"handlers": list(names), "propagate": False} for name in SERVER_LOGGERS
    }
    loggers.update({name: {"handlers": [], "propagate": True} for name in PROPAGATING_LOGGERS})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"format": _TEXT}, "access": {"format": _TEXT}},
        "handlers": handlers,
        "loggers": loggers,
        "root": {"level": level, "handlers": list(names)},
    }


def check_options(options: dict[str, Any]) -> None:
    """Validate KafkaHandler keyword arguments as the handler will (one line per bad one)."""
    values = {k: v for k, v in options.items() if k != "level"}
    for name in ("redact_keys", "redact_patterns"):
        if isinstance(values.get(name), tuple):
            values[name] = list(values[name])
    try:
        HandlerOptions.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, "logging_config")) from None
