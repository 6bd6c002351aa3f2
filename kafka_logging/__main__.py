"""`python -m kafka_logging ...` is `kafka-logging ...`."""

from kafka_logging.console import main

main()
