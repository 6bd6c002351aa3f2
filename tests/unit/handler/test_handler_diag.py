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
