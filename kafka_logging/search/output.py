"""Printing a stream of record batches: colour choice, interruption, broken pipes, limits."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import FrameType
from typing import Any, TextIO

import click

from kafka_logging.errors import FatalError
from kafka_logging.search.render import Renderer

INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C

Batch = Iterable[Mapping[str, Any]]


def use_color(choice: str, out: TextIO) -> bool:
    """--color: always, never, or auto (a terminal, unless NO_COLOR is set)."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())


def warn(text: str) -> None:
    """One line on stderr, never mixed into the records on stdout."""
    click.echo(f"kafka-logging: {text}", err=True)


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM set `stop`, so the command ends between two records with
    its output complete (a closed JSON array, nothing printed twice); a second signal raises
    KeyboardInterrupt at once, for a command stuck in a slow call."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def print_all(
    ctx: click.Context, batches: Iterable[Batch], renderer: Renderer, stop: threading.Event
) -> int:
    """Print until exhausted or `stop` is set, flushing after each batch; the number printed.

    Exits 130 when stopped (Ctrl-C / SIGTERM), 0 when the reader of a pipe goes away, 1 on a
    FatalError. Call it inside `stop_on_signals(stop)`.
    """
    count = 0
    try:
        try:
            for batch in batches:
                for record in batch:
                    renderer.write(record)
                    count += 1
                    if stop.is_set():
                        break
                renderer.flush()
                if stop.is_set():
                    break
        finally:
            _close(batches)
    except KeyboardInterrupt:
        stop.set()
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python's exit flush quiet.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        ctx.exit(0)
    except FatalError as exc:
        with contextlib.suppress(BrokenPipeError):
            renderer.close()
        raise click.ClickException(str(exc)) from None
    with contextlib.suppress(BrokenPipeError):
        renderer.close()
    if stop.is_set():
        ctx.exit(INTERRUPTED)
    return count


def _close(batches: Iterable[Batch]) -> None:
    """End abandoned generators now (closing a point in time, say), not at garbage collection."""
    for item in (batches, *(batches if isinstance(batches, list) else ())):
        close = getattr(item, "close", None)
        if callable(close):
            close()


def take(batches: Iterable[Sequence[Mapping[str, Any]]], limit: int | None) -> Iterator[Batch]:
    """The batches, cut so that at most `limit` records pass in total (None: no limit)."""
    if limit is None:
        yield from batches
        return
    left = limit
    for batch in batches:
        yield batch[:left]
        left -= min(left, len(batch))
        if left == 0:
            return
