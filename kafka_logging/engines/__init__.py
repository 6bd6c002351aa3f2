"""The search engines kafka-logging writes to and reads from: Elasticsearch 8.x/9.x and
OpenSearch 2.x/3.x. `engine` says what differs between them (pure logic); `client` is the
one thin HTTP client every component uses (imported on demand: it pulls in elastic-transport).
"""

from kafka_logging.engines.engine import (
    SUPPORTED_TEXT,
    Engine,
    UnsupportedEngineError,
    identify,
)

__all__ = ["SUPPORTED_TEXT", "Engine", "UnsupportedEngineError", "identify"]
