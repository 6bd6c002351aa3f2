"""Finding logs: `kafka-logging search` (Elasticsearch) and `kafka-logging tail` (Kafka).

Not imported by `import kafka_logging`; the CLI loads `kafka_logging.search.cli` on demand.
"""
