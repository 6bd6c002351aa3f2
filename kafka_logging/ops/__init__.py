"""Operations: `kafka-logging setup` (topics, index template, Kibana) and `prune` (retention)."""
