"""indexer: a consumer-group worker that bulk-indexes log records into Elasticsearch."""
