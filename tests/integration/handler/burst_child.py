"""A process that logs a burst from several threads, then exits normally (run as a script).

usage: burst_child.py BOOTSTRAP TOPIC RECORDS THREADS [HANDLER_KWARGS_JSON]

Each thread logs RECORDS/THREADS INFO records `burst-<thread>-<i>` as fast as it can; the
main thread then returns without closing the handler: interpreter exit (logging.shutdown)
flushes and closes it, with the handler's default deadlines. Prints BURST-LOGGED <seconds>.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time

from kafka_logging import KafkaHandler


def main() -> int:
    bootstrap, topic, records, threads = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:5])
    kwargs = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
    logging.basicConfig(level=logging.INFO, handlers=[KafkaHandler(bootstrap, topic, **kwargs)])
    log = logging.getLogger("burst")
    each = records // threads
    start = threading.Barrier(threads + 1)

    def burst(n: int) -> None:
        start.wait()
        for i in range(each):
            log.info("burst-%d-%d", n, i)

    workers = [threading.Thread(target=burst, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.monotonic()
    for worker in workers:
        worker.join()
    print(f"BURST-LOGGED {time.monotonic() - began:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
