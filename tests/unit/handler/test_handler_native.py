"""native.py's Event on original locks (used under gevent/eventlet; real patching is tested
in tests/integration/handler/test_handler_green.py)."""

from __future__ import annotations

import _thread
import threading

from kafka_logging.handler import native


def test_event_holds_its_locks_from_construction_on() -> None:
    """Even unpatched, Event is not threading.Event (which allocates a lock per wait() from
    threading's globals, gevent's after a later patch): its locks are _thread's, made once."""
    assert not native.patched()
    event = native.Event()
    assert isinstance(event, native._NativeEvent)
    assert type(event._gate) is _thread.LockType
    assert type(event._mutex) is _thread.LockType


def test_native_event_wakes_a_waiting_thread_and_times_out() -> None:
    """wait() times out while unset, returns at once when set from another thread, and
    blocks again after clear()."""
    event = native._NativeEvent(_thread.allocate_lock)
    assert event.wait(0.01) is False
    woke = threading.Event()

    def waiter() -> None:
        if event.wait(30):
            woke.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    event.set()
    assert woke.wait(30)
    thread.join(30)
    assert event.is_set()
    event.clear()
    assert event.wait(0.01) is False
