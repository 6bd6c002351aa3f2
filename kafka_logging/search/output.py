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


def raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the command like Ctrl-C does (the json array is still closed)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def print_all(ctx: click.Context, batches: Iterable[Batch], renderer: Renderer) -> int:
    """Print until exhausted, flushing after each batch; the number printed.

    Exits 130 on Ctrl-C / SIGTERM, 0 when the reader of a pipe goes away, 1 on a FatalError.
    """
    count = 0
    try:
        with sigterm_as_interrupt():
            for batch in batches:
                for record in batch:
                    renderer.write(record)
                    count += 1
                renderer.flush()
    except KeyboardInterrupt:
        with contextlib.suppress(BrokenPipeError):
            renderer.close()
        ctx.exit(INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python's exit flush quiet.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        ctx.exit(0)
    except FatalError as exc:
        with contextlib.suppress(BrokenPipeError):
            renderer.close()
        raise click.ClickException(str(exc)) from None
    renderer.close()
    return count


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
