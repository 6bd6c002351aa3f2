"""A process that logs through a KafkaHandler, for the kill / exit tests (run as a script).

usage: handler_child.py BOOTSTRAP TOPIC SPOOL_DIR PREFIX COUNT MODE
MODE  spool-and-wait: log, wait until everything is spooled, print SPOOLED, wait to be killed
      deliver: log, wait until everything is delivered (or 90 s), print DELIVERED + stats
      exit: log and return from main without closing (interpreter exit closes the handler)
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time

from kafka_logging import KafkaHandler


def main() -> int:
    bootstrap, topic, spool_dir, prefix, count, mode = sys.argv[1:7]
    handler = KafkaHandler(
        bootstrap,
        topic,
        service_name="child",
        spool_dir=spool_dir if spool_dir != "-" else None,
        close_timeout=2.0,
        flush_timeout=2.0,
        producer_config={"reconnect.backoff.max.ms": 500},
    )
    log = logging.getLogger("child")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    for i in range(int(count)):
        log.info("%s-%d", prefix, i)
    pause = threading.Event()
    if mode == "spool-and-wait":
        deadline = time.monotonic() + 60
        while handler.stats()["spooled"] < int(count) and time.monotonic() < deadline:
            handler.flush(1)
            pause.wait(0.1)
        handler.flush(5)
        print("SPOOLED", json.dumps(handler.stats()), flush=True)
        pause.wait(600)
        return 1
    if mode == "deliver":
        deadline = time.monotonic() + 90
        while not handler.flush(1) and time.monotonic() < deadline:
            pause.wait(0.1)
        print("DELIVERED", json.dumps(handler.stats()), flush=True)
        handler.close()
        return 0
    print("EXITING", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
