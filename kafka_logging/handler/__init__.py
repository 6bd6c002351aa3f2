"""The logging handler: `KafkaHandler` (handler.py) puts records on a bounded queue; the
delivery thread (delivery.py) builds ECS records (ecs.py, redact.py, fit.py), produces them
and spools to disk while Kafka is away (spool.py); stats.py, diag.py and otel.py serve them.

`kafka_logging.KafkaHandler` and `kafka_logging.handler.KafkaHandler` are the public names.
"""

from kafka_logging.handler.handler import KafkaHandler

__all__ = ["KafkaHandler"]
