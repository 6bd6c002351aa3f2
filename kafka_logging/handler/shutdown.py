"""Lossless exits the `logging` module's atexit flush does not cover.

`logging.shutdown()` (atexit) closes, and so flushes, every handler when the interpreter
exits normally. Two common exits skip it:

- Death by SIGTERM. A process whose SIGTERM handler is the default dies at once; uvicorn
  catches SIGTERM, stops gracefully (lifespan shutdown, "Application shutdown complete",
  "Finished server process"), then puts back the handler it found and raises SIGTERM again,
  so the process dies by the signal and atexit never runs.
  When a KafkaHandler is created on the main thread and SIGTERM's handler is still the
  default, `watch()` installs `_on_sigterm`: it flushes every live KafkaHandler (bounded by
  their `flush_timeout`), puts the default back and raises SIGTERM again, so the exit
  status stays "killed by SIGTERM". A handler the app (or a framework) installed is never
  replaced or wrapped; a framework that saves and later restores the handler it found
  restores this one, and that is how uvicorn's final lines are delivered.
- `os._exit()`: Celery's prefork pool processes (billiard) leave that way. When Celery is
  imported, `worker_process_shutdown` gets a receiver that flushes every live handler.
  `multiprocessing` children started by fork (Process, Pool workers) end with os._exit()
  after running multiprocessing's own exit finalizers: when a handler starts in such a
  child, `started()` registers a finalizer there that flushes.

The flush in the signal handler runs on a helper thread that the main thread waits for
with a deadline: the interrupted code may hold a lock the flush needs (e.g. the one inside
the worker's wake-up Event), and a deadlock must cost at most the deadline, never the exit.
"""

from __future__ import annotations

import _thread
import os
import signal
import sys
import threading
import time
import weakref
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kafka_logging.handler.handler import KafkaHandler

__all__ = ["closed", "flush_all", "started", "watch"]

_live: weakref.WeakSet[KafkaHandler] = weakref.WeakSet()
# Handlers whose worker runs stay referenced until closed: a handler only loguru refers to
# (`logger.add(KafkaHandler(...))`) would otherwise be collected when loguru's own atexit
# removes its sinks, before `logging.shutdown()` (atexit too, registered earlier) can flush it.
_running: set[KafkaHandler] = set()
_celery_hooked = False
_finalizer_pid = 0


def watch(handler: KafkaHandler) -> None:
    """Cover `handler` at the exits atexit misses (called once, from its constructor)."""
    _live.add(handler)
    _guard_sigterm()
    _hook_celery()


def started(handler: KafkaHandler) -> None:
    """`handler`'s delivery worker started in this process (called from KafkaHandler)."""
    global _finalizer_pid  # noqa: PLW0603 - one finalizer per process
    _running.add(handler)
    pid = os.getpid()
    if _finalizer_pid == pid or "multiprocessing" not in sys.modules:
        return
    _finalizer_pid = pid
    import multiprocessing  # noqa: PLC0415 - only where multiprocessing is in use
    from multiprocessing import util  # noqa: PLC0415

    if multiprocessing.parent_process() is not None:  # the main process has atexit
        util.Finalize(None, flush_all, exitpriority=0)


def closed(handler: KafkaHandler) -> None:
    """`handler` was closed: nothing here keeps it alive any more."""
    _running.discard(handler)


def flush_all(timeout: float | None = None) -> bool:
    """Flush every live KafkaHandler of this process, all within `timeout` (default: the
    largest `flush_timeout` among them). True when every one reports all delivered."""
    handlers = list(_live)
    if timeout is None:
        timeout = max((h.options.flush_timeout for h in handlers), default=0.0)
    deadline = time.monotonic() + timeout
    delivered = True
    for handler in handlers:
        delivered = handler.flush(max(0.0, deadline - time.monotonic())) and delivered
    return delivered


def _guard_sigterm() -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # signal.signal() works on the main thread only
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # e.g. an embedded interpreter without signals
        return


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Flush, put the default back, die by the same signal."""
    _flush_with_deadline()
    if signal.getsignal(signum) is _on_sigterm:
        signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)


def _flush_with_deadline() -> None:
    handlers = list(_live)
    if not handlers:
        return
    budget = max(h.options.flush_timeout for h in handlers)
    finished = _thread.allocate_lock()
    finished.acquire()

    def run() -> None:
        try:
            flush_all(budget)
        except Exception as exc:  # noqa: BLE001 - never raise out of a dying process
            sys.stderr.write(f"kafka-logging: flush at SIGTERM failed: {exc!r}\n")
        finally:
            finished.release()

    _thread.start_new_thread(run, ())
    finished.acquire(timeout=budget + 1.0)


def _hook_celery() -> None:
    global _celery_hooked  # noqa: PLW0603 - one receiver per process, ever
    if _celery_hooked or "celery" not in sys.modules:
        return
    _celery_hooked = True
    from celery import signals  # type: ignore[import-untyped,import-not-found,unused-ignore] # noqa: PLC0415

    signals.worker_process_shutdown.connect(_flush_on_celery_exit, weak=False)


def _flush_on_celery_exit(**_: Any) -> None:
    """Celery pool processes end with os._exit(): deliver what they logged first."""
    flush_all()
