"""The output loop: interruption by signals, limits, and closing what was abandoned."""

from __future__ import annotations

import io
import json
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import click
import pytest

from kafka_logging.search.output import INTERRUPTED, print_all, stop_on_signals
from kafka_logging.search.render import make_renderer


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_first_signal_sets_stop_second_raises(sig: signal.Signals) -> None:
    """Ctrl-C / SIGTERM once: stop is set and nothing is raised; twice: KeyboardInterrupt."""
    stop = threading.Event()
    with stop_on_signals(stop):
        os.kill(os.getpid(), sig)
        assert stop.is_set()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), sig)


def test_previous_handlers_are_restored() -> None:
    """Leaving the block puts the previous SIGINT/SIGTERM handlers back."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with stop_on_signals(threading.Event()):
        pass
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def run_print_all(batches: Any, stop: threading.Event) -> tuple[int | None, str]:
    """(exit status, or the count printed when it returned; output)."""
    out = io.StringIO()
    renderer = make_renderer("json", out)
    with click.Context(click.Command("x")) as ctx:
        try:
            result: int | None = print_all(ctx, batches, renderer, stop)
        except click.exceptions.Exit as exit_:
            result = exit_.exit_code
    return result, out.getvalue()


def test_stop_mid_stream_ends_after_a_whole_record_with_valid_json() -> None:
    """A stop during a batch: the current record is finished, no more are printed, the JSON
    array is closed, and the exit status is 130."""
    stop = threading.Event()

    def records() -> Iterator[dict[str, Any]]:
        yield {"n": 1}
        stop.set()  # as the signal handler would, while record 2 is being produced
        yield {"n": 2}
        yield {"n": 3}

    code, text = run_print_all([records()], stop)
    assert code == INTERRUPTED
    assert json.loads(text) == [{"n": 1}, {"n": 2}]


def test_abandoned_generators_are_closed() -> None:
    """Stopping early closes the record generator at once (its finally runs: PIT closed)."""
    stop = threading.Event()
    closed: list[bool] = []

    def records() -> Iterator[dict[str, Any]]:
        try:
            yield {"n": 1}
            stop.set()
            yield {"n": 2}
            yield {"n": 3}
        finally:
            closed.append(True)

    run_print_all([records()], stop)
    assert closed == [True]


def test_exhausted_stream_returns_the_count() -> None:
    """Without a stop, every record is printed and the count returned (no exit)."""
    count, text = run_print_all([[{"n": 1}], [{"n": 2}]], threading.Event())
    assert count == 2
    assert json.loads(text) == [{"n": 1}, {"n": 2}]
