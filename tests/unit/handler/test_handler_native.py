"""native.py's Event on original locks (used under gevent/eventlet; real patching is tested
in tests/integration/handler/test_handler_green.py)."""

from __future__ import annotations

import _thread
import threading

from kafka_logging.handler import native


def test_unpatched_process_gets_the_standard_library() -> None:
    """Without gevent/eventlet patching, the worker's primitives are threading's own."""
    assert not native.patched()
    assert isinstance(native.Event(), threading.Event)


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
