"""Commits around rebalances and at shutdown (issue 16, item 2), with a fake consumer: what
is expected during a rebalance is not a warning, a synchronous commit retries what is
transient, and a final commit that fails is an error the exit status shows."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from test_worker import TOPIC, FakeConsumer, FakeES, Msg, make, ok, record

from indexer.commit import Committer
from indexer.tracker import OffsetTracker
from kafka_logging.errors import FatalError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.01
        return self.now


def _tracker(resolved_up_to: int) -> OffsetTracker:
    tracker = OffsetTracker()
    tracker.assign((TOPIC, 0))
    for offset in range(resolved_up_to):
        tracker.take((TOPIC, 0), offset)
        tracker.resolve((TOPIC, 0), offset)
    return tracker


class ScriptedConsumer:
    """commit() answers with the errors given, one per call, then succeeds."""

    def __init__(self, *errors: int) -> None:
        self.errors = list(errors)
        self.calls: list[dict[tuple[str, int], int]] = []

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> Any:
        self.calls.append({(o.topic, o.partition): o.offset for o in offsets})
        if self.errors:
            raise KafkaException(KafkaError(self.errors.pop(0)))
        return None if asynchronous else offsets


def test_an_async_commit_failing_with_illegal_generation_is_not_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """ILLEGAL_GENERATION on a periodic commit (the group moved on) logs at DEBUG only, and
    the same position is committed again next time."""
    tracker = _tracker(5)
    committer = Committer(ScriptedConsumer(), tracker, Clock())
    caplog.set_level(logging.DEBUG, logger="indexer.commit")
    committer.commit_async()
    error = KafkaError(KafkaError.ILLEGAL_GENERATION)
    committer.on_commit(error, [TopicPartition(TOPIC, 0, 5)])
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert any("ILLEGAL_GENERATION" in r.getMessage() for r in caplog.records)
    assert tracker.to_commit() == {(TOPIC, 0): 5}  # handed out again


def test_an_unexpected_async_commit_error_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """Any other commit error (here an authorization failure) is still a WARNING."""
    committer = Committer(ScriptedConsumer(), _tracker(1), Clock())
    committer.on_commit(None, [_failed(KafkaError.GROUP_AUTHORIZATION_FAILED)])
    assert [r.levelname for r in caplog.records] == ["WARNING"]


class _Answer:
    """A partition of a commit answer (TopicPartition.error is read-only)."""

    def __init__(self, code: int) -> None:
        self.topic, self.partition, self.offset = TOPIC, 0, 1
        self.error = KafkaError(code)


def _failed(code: int) -> Any:
    return _Answer(code)


def test_a_sync_commit_retries_rebalance_in_progress_until_it_lands() -> None:
    """REBALANCE_IN_PROGRESS twice, then success: the synchronous commit reports success."""
    consumer = ScriptedConsumer(KafkaError.REBALANCE_IN_PROGRESS, KafkaError.REBALANCE_IN_PROGRESS)
    committer = Committer(consumer, _tracker(3), Clock(), backoff=0.001)
    assert committer.commit_sync(None, deadline=10.0) is None
    assert consumer.calls == [{(TOPIC, 0): 3}] * 3


def test_a_sync_commit_with_a_stale_generation_reports_what_was_not_saved() -> None:
    """ILLEGAL_GENERATION on a synchronous commit is not retried: the failure names the
    positions, which are handed out again."""
    tracker = _tracker(4)
    committer = Committer(ScriptedConsumer(KafkaError.ILLEGAL_GENERATION), tracker, Clock())
    failure = committer.commit_sync(None, deadline=10.0)
    assert failure is not None
    assert failure.positions == {(TOPIC, 0): 4}
    assert "ILLEGAL_GENERATION" in failure.reason


class FailingSyncCommits(FakeConsumer):
    code = KafkaError.GROUP_AUTHORIZATION_FAILED

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> Any:
        if asynchronous:
            return super().commit(offsets=offsets, asynchronous=True)
        raise KafkaException(KafkaError(self.code))


def test_a_failed_final_commit_makes_run_fail(caplog: pytest.LogCaptureFixture) -> None:
    """SIGTERM/stop(): the final synchronous commit fails, so run() raises FatalError (the
    CLI exits 1) after logging an ERROR naming the positions; no silent clean exit."""
    consumer = FailingSyncCommits(batches=[[Msg(0, o, record(0, o)) for o in range(3)]])
    consumer.script[1] = lambda c: c.assign(0)
    consumer.stop_when = lambda: consumer.calls > 15
    with pytest.raises(FatalError, match="final commit"):
        make(consumer, FakeES(ok)).run()
    assert any(r.levelname == "ERROR" and "final commit" in r.getMessage() for r in caplog.records)


def test_a_final_commit_refused_by_a_rebalance_is_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Leaving while the group rebalances (ILLEGAL_GENERATION): the next owner re-reads from
    the last commit, nothing is lost, so run() returns (exit 0) after a WARNING."""
    consumer = FailingSyncCommits(batches=[[Msg(0, o, record(0, o)) for o in range(3)]])
    consumer.code = KafkaError.ILLEGAL_GENERATION
    consumer.script[1] = lambda c: c.assign(0)
    consumer.stop_when = lambda: consumer.calls > 15
    make(consumer, FakeES(ok)).run()
    assert any(
        r.levelname == "WARNING" and "final commit" in r.getMessage() for r in caplog.records
    )
    assert not any(r.levelname == "ERROR" for r in caplog.records)


def test_a_clean_stop_commits_once_and_returns() -> None:
    """With commits succeeding, stop() commits the resolved position synchronously and run()
    returns normally (exit 0)."""
    consumer = FakeConsumer(batches=[[Msg(0, o, record(0, o)) for o in range(3)]])
    consumer.script[1] = lambda c: c.assign(0)
    consumer.stop_when = lambda: consumer.calls > 15
    make(consumer, FakeES(ok)).run()
    sync = [offsets for offsets, asynchronous in consumer.commits if not asynchronous]
    assert sync == [{(TOPIC, 0): 3}]
