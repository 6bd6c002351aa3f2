"""kafka-logging: structured logs from Python services to Kafka and on to Elasticsearch.

`import kafka_logging` stays light: it imports neither click nor elasticsearch, and the
handler (with confluent-kafka) is imported on first use of `kafka_logging.KafkaHandler`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = [
    "KafkaHandler",
    "StructlogProcessor",
    "__version__",
    "logging_config",
    "structlog_render_to_log_kwargs",
]

if TYPE_CHECKING:
    from kafka_logging.handler import KafkaHandler
    from kafka_logging.handler.frameworks import logging_config
    from kafka_logging.handler.structlog_adapter import StructlogProcessor
    from kafka_logging.handler.structlog_adapter import (
        render_to_log_kwargs as structlog_render_to_log_kwargs,
    )


def __getattr__(name: str) -> Any:
    if name == "KafkaHandler":
        from kafka_logging.handler import KafkaHandler  # noqa: PLC0415

        return KafkaHandler
    if name == "logging_config":
        from kafka_logging.handler.frameworks import logging_config  # noqa: PLC0415

        return logging_config
    if name == "StructlogProcessor":
        from kafka_logging.handler.structlog_adapter import StructlogProcessor  # noqa: PLC0415

        return StructlogProcessor
    if name == "structlog_render_to_log_kwargs":
        from kafka_logging.handler.structlog_adapter import render_to_log_kwargs  # noqa: PLC0415

        return render_to_log_kwargs
    raise AttributeError(f"module 'kafka_logging' has no attribute {name!r}")
