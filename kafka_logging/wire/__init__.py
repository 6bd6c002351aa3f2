"""The one record format every part of kafka-logging shares: ECS records as JSON
(`record`) or Avro (`avro`), their Kafka headers and event ids. It imports nothing of
kafka-logging above it; the handler, the shipper, the indexer and the tools import it."""
