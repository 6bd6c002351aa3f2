"""Real OS threads and locks for the delivery worker, also under gevent and eventlet.

After `gevent.monkey.patch_all()` (gunicorn -k gevent, Celery's gevent pool) or
`eventlet.monkey_patch()`, `threading.Thread` is a greenlet: a greenlet that logs in a loop
without yielding starves the worker, the queue fills and records are shed. Mature SDKs
(sentry-python, OpenTelemetry's exporters under gevent) run their background work on a real
thread taken from the originals the patcher saved. So does this module: when either library
has patched threading, `start_thread`, `Lock` and `Event` are built on the original `_thread`
functions, so the worker is an OS thread and wake-ups cross between it and greenlets.

`Event` is never `threading.Event`, even before any patch: that one allocates a fresh lock
from `threading`'s module globals on every `wait()`, so an Event made before gunicorn's gevent
worker patches (the handler starts in the worker before `init_process()`) would hand the OS
thread gevent locks afterwards, and the thread would start its own hub. Seen in CI as a
worker whose every record stayed queued. Each primitive here holds all its locks from
construction on, taken from the original `_thread` functions.
"""

from __future__ import annotations

import _thread
import sys
import threading
from collections.abc import Callable
from typing import Any, Protocol


class EventLike(Protocol):
    def is_set(self) -> bool: ...
    def set(self) -> None: ...
    def clear(self) -> None: ...
    def wait(self, timeout: float | None = None) -> bool: ...


class ThreadLike(Protocol):
    @property
    def ident(self) -> int | None: ...

    def start(self) -> None: ...
    def is_alive(self) -> bool: ...
    def join(self, timeout: float | None = None) -> None: ...


def _originals() -> tuple[Callable[[], Any], Callable[..., int]] | None:
    """(allocate_lock, start_new_thread) as they were before gevent or eventlet patched
    threading; None when neither did."""
    gevent_monkey = sys.modules.get("gevent.monkey")
    if gevent_monkey is not None and gevent_monkey.is_module_patched("threading"):
        lock, start = gevent_monkey.get_original("_thread", ["allocate_lock", "start_new_thread"])
        return lock, start
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and patcher.is_monkey_patched("thread"):
        original = patcher.original("_thread")
        return original.allocate_lock, original.start_new_thread
    return None


def patched() -> bool:
    """True when gevent or eventlet has patched threading in this process."""
    return _originals() is not None


def _allocate_lock() -> Callable[[], Any]:
    originals = _originals()
    return _thread.allocate_lock if originals is None else originals[0]


def Lock() -> _thread.LockType:
    lock: _thread.LockType = _allocate_lock()()  # _thread's own type, never a patched one
    return lock


def Event() -> EventLike:
    return _NativeEvent(_allocate_lock())


def start_thread(target: Callable[[], None], name: str) -> ThreadLike:
    """Start `target` on a new daemon OS thread (never a greenlet)."""
    originals = _originals()
    if originals is None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        return thread
    native = _NativeThread(target, originals)
    native.start()
    return native


class _NativeEvent:
    """threading.Event's behaviour on an original lock (a gate, closed while unset): set()
    from a greenlet wakes an OS thread waiting in wait(), and the other way round."""

    def __init__(self, allocate_lock: Callable[[], Any]) -> None:
        self._flag = False
        self._mutex = allocate_lock()
        self._gate = allocate_lock()
        self._gate.acquire()

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        with self._mutex:
            if not self._flag:
                self._flag = True
                self._gate.release()

    def clear(self) -> None:
        with self._mutex:
            if self._flag:
                self._flag = False
                self._gate.acquire()

    def wait(self, timeout: float | None = None) -> bool:
        if self._flag:
            return True
        if self._gate.acquire(True, -1 if timeout is None else max(0.0, timeout)):
            self._gate.release()
        return self._flag


class _NativeThread:
    """The part of threading.Thread the handler uses, on an original OS thread."""

    def __init__(self, target: Callable[[], None], originals: tuple[Any, Any]) -> None:
        self._target = target
        self._allocate, self._start_new = originals
        self._started = _NativeEvent(self._allocate)
        self._done = _NativeEvent(self._allocate)
        self.ident: int | None = None

    def start(self) -> None:
        self._start_new(self._run, ())
        self._started.wait()

    def _run(self) -> None:
        self.ident = threading.get_ident()  # what logging records as this thread's id
        self._started.set()
        try:
            self._target()
        finally:
            self._done.set()

    def is_alive(self) -> bool:
        return self._started.is_set() and not self._done.is_set()

    def join(self, timeout: float | None = None) -> None:
        self._done.wait(timeout)
