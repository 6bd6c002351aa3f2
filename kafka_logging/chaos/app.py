"""A chaos app process: logs through KafkaHandler and records, durably, what it has written.

`python -m kafka_logging.chaos.app NAME BOOTSTRAP SPOOL_DIR TRUTH_DIR RATE FORKS`

Each process incarnation (and each forked worker) is a generator with its own id. It logs
batches of records carrying `chaos.gen` and `chaos.seq`, waits until the handler holds none of
them in memory (each is acknowledged by Kafka or in the on-disk spool), and only then appends
the batch to its truth file with fsync. A SIGKILL therefore loses nothing that was recorded:
the spool is adopted by the next incarnation. SIGTERM: finish the batch, close, exit 0.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from kafka_logging import KafkaHandler

BATCH = 25


def _quiescent(handler: Any, stop_after: float) -> bool:
    """Wait until no record of ours is only in memory (delivered or spooled), bounded."""
    waited = 0.0
    while waited < stop_after:
        handler.flush(1.0)
        stats = handler.stats()
        if stats["queue_depth"] == 0 and stats["in_flight"] == 0:
            return True
        waited += 1.0
    return False


def generate(name: str, handler: Any, truth_dir: Path, rate: float, stop: threading.Event) -> None:
    gen = f"{name}-{uuid.uuid4().hex[:8]}"
    log = logging.getLogger("chaos.app")
    fd = os.open(truth_dir / f"{gen}.truth", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    seq = 0
    pause = threading.Event()
    while not stop.is_set():
        first = seq
        for _ in range(BATCH):
            log.info("chaos record %s %d", gen, seq, extra={"chaos": {"gen": gen, "seq": seq}})
            seq += 1
        if _quiescent(handler, 120.0):
            os.write(fd, f"{gen} {first} {seq}\n".encode())
            os.fsync(fd)
        pause.wait(BATCH / rate)
    os.close(fd)


def main(argv: list[str]) -> None:
    name, bootstrap, spool, truth = argv[0], argv[1], Path(argv[2]), Path(argv[3])
    rate, forks = float(argv[4]), int(argv[5])
    handler = KafkaHandler(
        bootstrap,
        service_name=f"chaos-{name}",
        environment="chaos",
        spool_dir=str(spool),
        close_timeout=10.0,
    )
    log = logging.getLogger("chaos.app")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    children = []
    for worker in range(forks):
        pid = os.fork()
        if pid == 0:
            generate(f"{name}-w{worker}", handler, truth, rate, stop)
            handler.close()
            os._exit(0)
        children.append(pid)
    generate(name, handler, truth, rate, stop)
    for pid in children:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    handler.close()


if __name__ == "__main__":
    main(sys.argv[1:])
