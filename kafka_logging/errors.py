"""The exception tree every component speaks. Client errors are translated at the boundary."""

from __future__ import annotations


class KafkaLoggingError(Exception):
    """Base of every error this project raises on purpose."""


class RetryableError(KafkaLoggingError):
    """Worth trying again later: a broker or node down, overloaded, or timing out."""


class PermanentError(KafkaLoggingError):
    """This input can never succeed as it is: route it to the dead-letter topic, never drop it."""


class FatalError(KafkaLoggingError):
    """The component cannot go on; the message says what the operator must fix."""


class ConfigError(FatalError):
    """Configuration that does not validate; the message names every bad field."""
