"""The local sandbox: a real Apache Kafka broker and Elasticsearch node fetched from Maven Central.

`kafka-logging stack up | down | status` is what `docker compose up` is for people with Docker,
needing only Java and Maven. Nothing here is imported by `import kafka_logging`.
"""
