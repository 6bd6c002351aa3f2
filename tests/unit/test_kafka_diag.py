"""Client diagnostics: the reason for a failure in words, and no flood of repeated lines."""

from __future__ import annotations

import logging

import pytest

from kafka_logging.kafka_diag import ErrorCollector, client_logger


def _line(ms: int, client: int) -> str:
    return (
        f"FAIL [rdkafka#producer-{client}] [thrd:sasl_ssl://h:1/bootstrap]: "
        "sasl_ssl://h:1/bootstrap: "
        f"SASL authentication error: Authentication failed (after {ms}ms in state AUTH_REQ)"
    )


def test_repeated_client_line_passes_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    """The same failure, differing only in timings and client name, is logged once per interval."""
    now = [0.0]
    logger = client_logger("test.diag.once", interval=30, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="test.diag.once"):
        for i in range(10):
            logger.error(_line(300 + i, i % 2))
        now[0] = 31.0
        logger.error(_line(999, 3))
    assert len(caplog.records) == 2


def test_distinct_problems_are_each_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Different failures are not hidden behind each other."""
    logger = client_logger("test.diag.distinct", interval=30, clock=lambda: 0.0)
    with caplog.at_level(logging.INFO, logger="test.diag.distinct"):
        logger.error(_line(1, 1))
        logger.error("FAIL [rdkafka#producer-1] h:1/bootstrap: Connect failed: Connection refused")
    assert len(caplog.records) == 2


class _Err:
    def __init__(self, name: str, text: str) -> None:
        self._name, self._text = name, text

    def name(self) -> str:
        return self._name

    def str(self) -> str:
        return self._text


def test_authentication_failure_is_preferred_over_brokers_down() -> None:
    """With several errors seen, the most specific one explains the failure."""
    errors = ErrorCollector()
    errors(_Err("_ALL_BROKERS_DOWN", "1/1 brokers are down"))
    errors(_Err("_AUTHENTICATION", "SASL authentication error: Authentication failed"))
    assert "Authentication failed" in errors.explain("fallback")


def test_hung_up_first_request_is_explained_as_a_protocol_mismatch() -> None:
    """A broker closing the connection at the first request points at security.protocol."""
    errors = ErrorCollector()
    errors.log(
        "FAIL [rdkafka#producer-1] [thrd:h:1/bootstrap]: h:1/bootstrap: Disconnected: "
        "connection closed by peer: receive 0 after POLLIN (after 5ms in state APIVERSION_QUERY)"
    )
    errors(_Err("_ALL_BROKERS_DOWN", "1/1 brokers are down"))
    assert "security.protocol does not match" in errors.explain("fallback")
