"""The handler's stderr voice is rate limited per topic (kafka_logging.handler.diag)."""

from __future__ import annotations

from kafka_logging.handler.diag import Diagnostics


def test_rate_limited_per_topic_and_counts_held_lines() -> None:
    """Within the interval a topic speaks once; held lines are counted in the next one."""
    now = [0.0]
    lines: list[bytes] = []
    diag = Diagnostics(interval=10, clock=lambda: now[0], write=lines.append)
    assert diag.say("drop", "one")
    assert not diag.say("drop", "two")
    assert not diag.say("drop", "three")
    assert diag.say("other", "independent")
    now[0] = 11
    assert diag.say("drop", "four")
    assert lines[0] == b"kafka-logging: one\n"
    assert lines[-1] == b"kafka-logging: four (2 similar line(s) held back)\n"
    assert len(lines) == 3


def test_a_transient_coordinator_retry_is_said_only_when_it_persists() -> None:
    """librdkafka's 'Coordinator load in progress: retrying' is quiet for its grace period."""
    from kafka_logging.handler.delivery import TRANSIENT_GRACE, _KafkaLogger

    now = [0.0]
    lines: list[bytes] = []
    diag = Diagnostics(interval=0, clock=lambda: now[0], write=lines.append)
    kafka_log = _KafkaLogger(diag, clock=lambda: now[0])
    retry = (
        "Failed to acquire idempotence PID from broker b/1: Coordinator load in progress: retrying"
    )
    kafka_log.log(4, "%s [%s] %s", "GETPID", "p#producer-1", retry)
    now[0] = TRANSIENT_GRACE - 1
    kafka_log.log(4, "%s [%s] %s", "GETPID", "p#producer-1", retry)
    assert lines == []
    now[0] = TRANSIENT_GRACE + 1
    kafka_log.log(4, "%s [%s] %s", "GETPID", "p#producer-1", retry)
    kafka_log.log(3, "%s [%s] %s", "FAIL", "p#producer-1", "Connect to b/1 failed")
    assert lines == [
        f"kafka-logging: kafka client: GETPID [p#producer-1] {retry}\n".encode(),
        b"kafka-logging: kafka client: FAIL [p#producer-1] Connect to b/1 failed\n",
    ]


def test_a_transient_retry_after_a_quiet_grace_period_gets_a_new_grace() -> None:
    """A retry run that ended long ago does not make the next, short one speak."""
    from kafka_logging.handler.delivery import TRANSIENT_GRACE, _KafkaLogger

    now = [0.0]
    lines: list[bytes] = []
    diag = Diagnostics(interval=0, clock=lambda: now[0], write=lines.append)
    kafka_log = _KafkaLogger(diag, clock=lambda: now[0])
    retry = "Failed to acquire idempotence PID: Coordinator load in progress: retrying"
    kafka_log.log(4, "%s", retry)
    now[0] = 10 * TRANSIENT_GRACE
    kafka_log.log(4, "%s", retry)
    now[0] += TRANSIENT_GRACE - 1
    kafka_log.log(4, "%s", retry)
    assert lines == []
