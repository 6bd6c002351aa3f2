"""kafka-logging: structured logs from Python services to Kafka and on to Elasticsearch.

`import kafka_logging` stays light: it imports neither click nor elasticsearch, and the
handler (with confluent-kafka) is imported on first use of `kafka_logging.KafkaHandler`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["KafkaHandler", "__version__", "logging_config"]

if TYPE_CHECKING:
    from kafka_logging.handler import KafkaHandler
    from kafka_logging.handler.frameworks import logging_config


def __getattr__(name: str) -> Any:
    if name == "KafkaHandler":
        from kafka_logging.handler import KafkaHandler  # noqa: PLC0415

        return KafkaHandler
    if name == "logging_config":
        from kafka_logging.handler.frameworks import logging_config  # noqa: PLC0415

        return logging_config
    raise AttributeError(f"module 'kafka_logging' has no attribute {name!r}")
