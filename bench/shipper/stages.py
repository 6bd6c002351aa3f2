"""Where a shipped line's CPU goes: the shipper's per-line stages, one at a time, in one
process against the local broker (thread CPU time per line, so other load on the machine
inflates them less than wall time).

    .venv/bin/python bench/shipper/stages.py --lines 500000 --rounds 3

Stages: framing (LineFramer.feed on 256 KiB chunks), encoding (FileEncoder.batch), produce()
(positional, with headers and a delivery callback, as the shipper calls it), serving the
delivery reports (poll() until flushed, with the shipper's acks.Batch callback), and the
client's own threads (librdkafka: compression, protocol) and the broker's CPU over the same
produce. Also kcat -P's CPU and the broker's CPU for the same lines as raw text. Prints the
median of each over --rounds and writes bench/results/shipper-stages-<UTC time>.json.

--paths rust python: each round measures the shipper's stages once per hot path (the compiled
framing and splicing of kafka_logging.speedups, and their pure-Python twins), alternately.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from kafka_logging.speedups import native

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import (
    PRODUCER,
    broker_pid,
    cpu_seconds,
    create_topic,
    delete_topic,
    text_line,
    wait_for_topic,
)
from shipper.acks import FileAcks, Window
from shipper.config import InputConfig
from shipper.producer import NOW, PARTITION_ANY
from shipper.reader import LineFramer
from shipper.records import RecordBuilder

ROOT = Path(__file__).resolve().parents[2]
CHUNK = 256 * 1024


def client_threads_cpu() -> float:
    """CPU seconds of this process's threads other than the calling one (librdkafka's)."""
    me = threading.get_native_id()
    total = 0.0
    for task in os.listdir("/proc/self/task"):
        if int(task) == me:
            continue
        try:
            fields = Path(f"/proc/self/task/{task}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def one_round(
    bootstrap: str, data: bytes, lines: int, broker: int | None, path: str = "rust"
) -> dict[str, float]:
    """The shipper's loop, stage by stage: per 256 KiB chunk frame, encode, produce, serve
    the reports that are ready; at most 32 MiB in flight (the default window)."""
    encoder = RecordBuilder(InputConfig(paths=["/x"], service="bench"), "host", "service.name")
    file_encoder = encoder.for_file("/var/log/app/bench.log", "fd00-1234-" + "a" * 32)
    framer = LineFramer(0, 1 << 20)
    if path == "python":
        framer.frame_lines = None
        file_encoder.splicer = None
    elif native is None or framer.frame_lines is None or file_encoder.splicer is None:
        raise SystemExit("the compiled path is not available (built? KAFKA_LOGGING_PURE set?)")
    stamp = "2026-11-22T04:31:00.123456Z"
    topic = f"bench-stages-{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic)
    settings = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 20,
        "compression.type": "lz4",
        "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": 1024 * 1024,
        "batch.size": 1_000_000,
    }
    producer = Producer(settings)
    producer.list_topics(topic, timeout=10)
    window = Window(32 * 1024 * 1024)
    acks = FileAcks(0, window, lambda b: None, lambda e: None)
    clock = time.thread_time
    per = dict.fromkeys(("framing", "encoding", "produce", "delivery_reports"), 0.0)
    threads_before = client_threads_cpu()
    broker_before = cpu_seconds(broker) if broker else 0.0
    for i in range(0, len(data), CHUNK):
        while window.full:
            t = clock()
            producer.poll(0.01)
            per["delivery_reports"] += clock() - t
        t0 = clock()
        events = framer.feed(data[i : i + CHUNK], 0.0)
        t1 = clock()
        messages = file_encoder.batch(events, stamp)
        t2 = clock()
        batch = acks.open(events[0][0])
        batch.remaining += len(messages)
        callback = batch.on_delivery
        nbytes = 0
        for value, key, headers in messages:
            producer.produce(topic, value, key, PARTITION_ANY, callback, None, NOW, headers)
            nbytes += len(value)
        batch.nbytes = nbytes
        acks.seal(batch, events[-1][1], len(events))
        t3 = clock()
        producer.poll(0)
        t4 = clock()
        per["framing"] += t1 - t0
        per["encoding"] += t2 - t1
        per["produce"] += t3 - t2
        per["delivery_reports"] += t4 - t3
    t = clock()
    producer.flush(300)
    per["delivery_reports"] += clock() - t
    per["client_threads"] = client_threads_cpu() - threads_before
    if broker:
        per["broker"] = cpu_seconds(broker) - broker_before
    assert acks.committed == len(data), "every line acknowledged"
    delete_topic(bootstrap, topic)
    return {name: seconds / lines * 1e6 for name, seconds in per.items()}


def kcat_round(bootstrap: str, path: Path, lines: int, broker: int | None) -> dict[str, float]:
    topic = f"bench-stages-kcat-{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic)
    args = ["kcat", "-P", "-b", bootstrap, "-t", topic, "-l", str(path)]
    for key, value in PRODUCER.items():
        args += ["-X", f"{key}={value}"]
    broker_before = cpu_seconds(broker) if broker else 0.0
    proc = subprocess.Popen(args)
    _pid, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise RuntimeError(f"kcat failed: {status}")
    wait_for_topic(bootstrap, topic, lines, 300)
    out = {"kcat_process": (usage.ru_utime + usage.ru_stime) / lines * 1e6}
    if broker:
        out["broker_for_kcat"] = (cpu_seconds(broker) - broker_before) / lines * 1e6
    delete_topic(bootstrap, topic)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--paths", nargs="+", default=["rust"], choices=["rust", "python"], help="hot paths"
    )
    args = parser.parse_args()
    rng = random.Random(7)
    data = ("\n".join(text_line(rng, i) for i in range(args.lines)) + "\n").encode()
    broker = broker_pid()
    rounds: list[dict[str, float]] = []
    with tempfile.NamedTemporaryFile(dir="/var/tmp", suffix=".log") as f:
        f.write(data)
        f.flush()
        for _ in range(args.rounds):
            result: dict[str, float] = {}
            for path in args.paths:
                stages = one_round(args.bootstrap, data, args.lines, broker, path)
                result.update({f"{path}.{k}": v for k, v in stages.items()})
            result.update(kcat_round(args.bootstrap, Path(f.name), args.lines, broker))
            print({k: round(v, 3) for k, v in result.items()}, flush=True)
            rounds.append(result)
    medians = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    shipper_keys = ["framing", "encoding", "produce", "delivery_reports", "client_threads"]
    for path in args.paths:
        medians[f"{path}.shipper_process_total"] = sum(medians[f"{path}.{k}"] for k in shipper_keys)
    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(sys.argv),
        "lines": args.lines,
        "avg_line_bytes": len(data) / args.lines,
        "load_1m": os.getloadavg()[0],
        "us_per_line_median": medians,
        "rounds": rounds,
    }
    out = ROOT / "bench" / "results" / f"shipper-stages-{time.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(medians, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
