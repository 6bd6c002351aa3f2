"""`kafka-logging chaos`: prove every record written reaches Elasticsearch exactly once, while
processes, brokers and Elasticsearch are killed, stopped and frozen on a seeded schedule."""
