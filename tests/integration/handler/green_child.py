"""A greenlet that logs in a tight loop without ever yielding (run as a script).

usage: green_child.py gevent|gevent-late|eventlet BOOTSTRAP TOPIC RECORDS

After monkey-patching, one greenlet logs RECORDS INFO records `green-<i>` with default
settings and then, still without yielding to the hub, waits (up to 60 s, sleeping with the
unpatched time.sleep) until the handler reports them all delivered. The delivery worker
must therefore run on a real OS thread. `gevent-late` makes the handler and logs `green-0`
before patching, as gunicorn's gevent worker does (it logs "Booting worker" before it
patches), so the delivery thread already runs when gevent patches threading; the script then
also checks that the thread never entered gevent (one hub in the process, the main one).
Prints STATS <json> and exits 0 if all were delivered, 1 if not.
"""

from __future__ import annotations

import logging
import sys

LIBRARY = sys.argv[1]
LATE = LIBRARY == "gevent-late"
early = None
if LATE:
    from kafka_logging import KafkaHandler

    early = KafkaHandler(sys.argv[2], sys.argv[3], service_name="green-gevent-late")
    logging.getLogger("green").addHandler(early)
    logging.getLogger("green").setLevel(logging.INFO)
    logging.getLogger("green").info("green-%d", 0)  # the delivery thread starts here
if LIBRARY.startswith("gevent"):
    from gevent import monkey

    monkey.patch_all()
    real_sleep = monkey.get_original("time", "sleep")
else:
    import eventlet
    import eventlet.patcher

    eventlet.monkey_patch()
    real_sleep = eventlet.patcher.original("time").sleep

import gc  # noqa: E402 - after monkey-patching, as apps do
import json  # noqa: E402
import time  # noqa: E402

from kafka_logging import KafkaHandler  # noqa: E402


def tight_loop(bootstrap: str, topic: str, records: int) -> bool:
    handler = early or KafkaHandler(bootstrap, topic, service_name=f"green-{LIBRARY}")
    log = logging.getLogger("green")
    if early is None:
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    for i in range(1 if LATE else 0, records):
        log.info("green-%d", i)
    deadline = time.monotonic() + 60
    while handler.stats()["delivered"] < records and time.monotonic() < deadline:
        real_sleep(0.05)  # blocks this OS thread without yielding to other greenlets
    stats = handler.stats()
    print("STATS", json.dumps(stats), flush=True)
    return bool(stats["delivered"] == records and stats["dropped_total"] == 0)


def hubs() -> int:
    import gevent.hub

    return sum(isinstance(o, gevent.hub.Hub) for o in gc.get_objects())


def main() -> int:
    bootstrap, topic, records = sys.argv[2], sys.argv[3], int(sys.argv[4])
    if LIBRARY.startswith("gevent"):
        import gevent

        ok = gevent.spawn(tight_loop, bootstrap, topic, records).get()
        if LATE and hubs() != 1:
            print(f"the delivery thread entered gevent: {hubs()} hubs", flush=True)
            ok = False
    else:
        ok = eventlet.spawn(tight_loop, bootstrap, topic, records).wait()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
