"""Moved to kafka_logging.wire.avro; this alias stays for one release."""

from kafka_logging.wire.avro import *  # noqa: F403
