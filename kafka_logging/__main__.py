"""`python -m kafka_logging ...` is `kafka-logging ...`."""

from kafka_logging.cli import main

main()
