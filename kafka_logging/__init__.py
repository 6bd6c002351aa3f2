"""kafka-logging: structured logs from Python services to Kafka and on to Elasticsearch.

`import kafka_logging` stays light: it imports neither click nor elasticsearch.
"""

from __future__ import annotations

__version__ = "0.1.0"
