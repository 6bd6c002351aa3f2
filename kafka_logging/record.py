"""Moved to kafka_logging.wire.record; this alias stays for one release."""

from kafka_logging.wire.record import *  # noqa: F403
