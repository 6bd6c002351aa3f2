"""Moved to kafka_logging.handler.ecs; this alias stays for one release."""

from kafka_logging.handler.ecs import *  # noqa: F403
