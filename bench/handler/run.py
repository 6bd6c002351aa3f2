# ruff: noqa: PLC0415 - each contender imports only its own library, in its own process
"""Benchmark: what a log call costs the application, per handler, on the same records.

    .venv/bin/python bench/handler/run.py [--records 100000] [--rounds 3]
                                          [--bootstrap 127.0.0.1:9092]

Contenders, each in its own fresh process, one after the other:
  (a) nothing     a Handler whose emit() does nothing (the stdlib floor: making the record)
  (b) file-json   logging.FileHandler + python-json-logger JsonFormatter
  (c) logstash    python-logstash-async AsynchronousLogstashHandler to a local TCP sink
  (d) kafka       kafka_logging.KafkaHandler to the broker (a fresh topic), until acknowledged
  (d') kafka-bigq  the same with a queue of --records + 10,000 (nothing shed: pure throughput)
  (d'') kafka-paced  the same, the records logged at a steady --rate (default 50,000/s) instead
                     of flat out: does one process sustain that rate, acknowledged, with
                     nothing shed (a flat-out loop mostly measures a growing backlog)?
  (e) kafka-down  KafkaHandler pointed at a closed port (no spool), p99 caller latency
  (f) kafka-down-spool  the same with a spool directory
  (g) kafka-emit-only   KafkaHandler whose worker is held off: emit() alone, without the
                        worker competing for the GIL (the caller's own cost)

Reported per contender: caller wall time per record (the loop of logger.info calls),
caller-thread CPU per record, total process CPU per record until everything is delivered
(or flushed), records/s until acknowledged (kafka) and p50/p99/max caller latency.
Results go to bench/results/handler.json and handler.md.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

MSG = "request %s done in %d ms"
ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
CONTENDERS = [
    "nothing",
    "file-json",
    "logstash",
    "kafka",
    "kafka-bigq",
    "kafka-paced",
    "kafka-down",
    "kafka-down-spool",
    "kafka-emit-only",
]
# (b) writes the same information the KafkaHandler's ECS record holds.
JSON_FIELDS = (
    "%(levelname)s %(name)s %(message)s %(filename)s %(lineno)d %(funcName)s "
    "%(process)d %(processName)s %(thread)d %(threadName)s"
)


class Nothing(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        pass


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tcp_sink() -> int:
    """A TCP server on a free port that reads and discards (logstash's stand-in)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve() -> None:
        while True:
            conn, _ = server.accept()
            threading.Thread(target=drain, args=(conn,), daemon=True).start()

    def drain(conn: socket.socket) -> None:
        with conn:
            while conn.recv(1 << 16):
                pass

    threading.Thread(target=serve, daemon=True).start()
    port: int = server.getsockname()[1]
    return port


def make_handler(name: str, args: argparse.Namespace, work: Path) -> tuple[logging.Handler, Any]:
    if name == "nothing":
        return Nothing(), None
    if name == "file-json":
        from pythonjsonlogger.json import JsonFormatter

        handler = logging.FileHandler(work / "out.jsonl")
        handler.setFormatter(JsonFormatter(JSON_FIELDS, timestamp=True))
        return handler, None
    if name == "logstash":
        from logstash_async.handler import AsynchronousLogstashHandler

        handler = AsynchronousLogstashHandler(
            "127.0.0.1",
            tcp_sink(),
            database_path=None,
            transport="logstash_async.transport.TcpTransport",
        )
        return handler, None
    from kafka_logging import KafkaHandler

    if name in ("kafka", "kafka-bigq", "kafka-paced"):
        topic = f"bench-{uuid.uuid4().hex[:8]}"
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": args.bootstrap})
        new = NewTopic(topic, num_partitions=1, replication_factor=1)
        admin.create_topics([new])[topic].result(30)
        queue = args.records + 10_000 if name == "kafka-bigq" else 20_000
        handler = KafkaHandler(
            args.bootstrap,
            topic,
            service_name="bench",
            max_queue_records=queue,
            max_queue_bytes=max(queue * 1024, 64 * 2**20),
        )
        return handler, (admin, topic)
    if name == "kafka-emit-only":
        held = KafkaHandler(
            args.bootstrap, "bench", service_name="bench", max_queue_records=args.records * 2
        )
        held._wake.set()  # the worker never starts: only emit() runs
        # Records leave the queue as if a worker kept up (a long-lived queue of 100k records
        # would mostly measure the garbage collector scanning them).
        held._queue = collections.deque(maxlen=512)
        return held, None
    spool = str(work / "spool") if name == "kafka-down-spool" else None
    handler = KafkaHandler(
        f"127.0.0.1:{closed_port()}",
        "bench",
        service_name="bench",
        spool_dir=spool,
        diagnostics_interval=3600,
        max_queue_records=20_000,
    )
    return handler, None


def one(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one contender in this process; its measurements."""
    work = Path(tempfile.mkdtemp(prefix="kl-bench-"))
    handler, cleanup = make_handler(name, args, work)
    logger = logging.getLogger("bench.app")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    n = args.records
    log = logger.info
    paths = [f"/api/items/{i}" for i in range(64)]
    # warm up (imports, first connections, worker start)
    for i in range(2000):
        log(MSG, paths[i & 63], i % 500, extra={"user": {"id": i}, "status": 200})
    if name == "kafka-emit-only":
        handler._queue.clear()  # type: ignore[attr-defined]
    elif hasattr(handler, "flush"):
        handler.flush()
    pause = threading.Event()
    pause.wait(0.5)

    stats_of = getattr(handler, "stats", None)
    delivered0 = stats_of()["delivered"] if callable(stats_of) else 0
    cpu0 = time.process_time()
    thread0 = time.thread_time()
    wall0 = time.perf_counter()
    latencies: list[int] = []
    if name.startswith("kafka-down"):
        clock = time.perf_counter_ns
        append = latencies.append
        for i in range(n):
            t = clock()
            log(MSG, paths[i & 63], i % 500, extra={"user": {"id": i}, "status": 200})
            append(clock() - t)
    elif name == "kafka-paced":
        clock = time.perf_counter
        rate, i = args.rate, 0
        while i < n:
            due = min(n, int((clock() - wall0) * rate) + 1)
            while i < due:
                log(MSG, paths[i & 63], i % 500, extra={"user": {"id": i}, "status": 200})
                i += 1
            if i < n:
                time.sleep(0.0005)  # a benchmark's pacing, not a test
    else:
        for i in range(n):
            log(MSG, paths[i & 63], i % 500, extra={"user": {"id": i}, "status": 200})
    wall1 = time.perf_counter()
    thread1 = time.thread_time()
    done = True
    if name in ("kafka", "kafka-bigq", "kafka-paced"):
        done = handler.flush(120)  # type: ignore[call-arg]
    elif name == "logstash":
        handler.flush()
        # the worker sends in the background: wait until its queue is empty
        deadline = time.monotonic() + 120
        worker = getattr(handler, "_worker", None)
        while worker is not None and time.monotonic() < deadline:
            queue = getattr(worker, "_queue", None)
            if queue is None or queue.empty():
                break
            pause.wait(0.01)
    elif name.startswith("kafka-down"):
        handler.flush(10)  # type: ignore[call-arg]
    elif name == "kafka-emit-only":
        handler._queue.clear()  # type: ignore[attr-defined]
    else:
        handler.flush()
    wall2 = time.perf_counter()
    cpu2 = time.process_time()
    result: dict[str, Any] = {
        "records": n,
        "caller_wall_us": (wall1 - wall0) / n * 1e6,
        "caller_thread_cpu_us": (thread1 - thread0) / n * 1e6,
        "total_cpu_us": (cpu2 - cpu0) / n * 1e6,
        "records_per_s_until_done": n / (wall2 - wall0),
        "all_done": bool(done),
    }
    if latencies:
        latencies.sort()
        result["p50_us"] = latencies[len(latencies) // 2] / 1000
        result["p99_us"] = latencies[int(len(latencies) * 0.99)] / 1000
        result["p999_us"] = latencies[int(len(latencies) * 0.999)] / 1000
        result["max_us"] = latencies[-1] / 1000
    stats = getattr(handler, "stats", None)
    if callable(stats):
        s = stats()
        result["stats"] = {k: s[k] for k in ("delivered", "spooled", "dropped", "queue_depth")}
        if name in ("kafka", "kafka-bigq", "kafka-paced"):
            result["delivered_per_s"] = (s["delivered"] - delivered0) / (wall2 - wall0)
    handler.close()
    if cleanup is not None:
        admin, topic = cleanup
        admin.delete_topics([topic])[topic].result(30)
    return result


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-metric median over the successful runs (the first run's other fields)."""
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[-1]
    out = dict(good[0])
    for key, value in good[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = statistics.median(r[key] for r in good if key in r)
    out["rounds"] = len(good)
    return out


def targets(results: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets, computed from one run's results (None when a part is missing)."""

    def get(name: str, key: str) -> Any:
        return results.get(name, {}).get(key)

    floor, floor_cpu = get("nothing", "caller_wall_us"), get("nothing", "caller_thread_cpu_us")
    file_cpu = get("file-json", "total_cpu_us")
    kafka = results.get("kafka", {})
    out: dict[str, Any] = {}
    if floor is not None and "caller_wall_us" in kafka:
        out["caller wall over floor, us (<= 3)"] = kafka["caller_wall_us"] - floor
        out["caller thread CPU over floor, us (<= 3)"] = kafka["caller_thread_cpu_us"] - floor_cpu
    if floor is not None and get("kafka-emit-only", "caller_wall_us") is not None:
        out["emit() alone over floor, wall us (<= 3)"] = (
            get("kafka-emit-only", "caller_wall_us") - floor
        )
    if file_cpu:
        for name in ("kafka", "kafka-bigq", "kafka-paced"):
            if get(name, "total_cpu_us") is not None:
                out[f"{name} total CPU / file-json total CPU (<= 0.6)"] = (
                    get(name, "total_cpu_us") / file_cpu
                )
    for name in ("kafka", "kafka-bigq", "kafka-paced"):
        if get(name, "delivered_per_s") is not None:
            out[f"{name} acknowledged records/s (>= 50000)"] = get(name, "delivered_per_s")
    paced = results.get("kafka-paced", {}).get("stats")
    if paced is not None:
        out["kafka-paced records dropped (0)"] = sum(paced.get("dropped", {}).values())
    out["p99 caller latency, broker down, us (<= 100)"] = get("kafka-down", "p99_us")
    out["p99 caller latency, broker down + spool, us (<= 100)"] = get("kafka-down-spool", "p99_us")
    return out


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Handler benchmark ({report['when']}, Python {report['python']}, "
        f"{report['cpus']} CPUs, load {report['load_average'][0]:.1f}, "
        f"{report['records']} records)",
        "",
        "| contender | caller wall us/rec | caller thread CPU us/rec | total CPU us/rec "
        "| rec/s until done | p99 us | dropped |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in report["results"].items():
        if "error" in r:
            lines.append(f"| {name} | error: {' '.join(r['error'])} | | | | | |")
            continue
        dropped = r.get("stats", {}).get("dropped", "")
        lines.append(
            f"| {name} | {r['caller_wall_us']:.2f} | {r['caller_thread_cpu_us']:.2f} "
            f"| {r['total_cpu_us']:.2f} | {r['records_per_s_until_done']:.0f} "
            f"| {r.get('p99_us', '')} | {dropped} |"
        )
    lines += ["", "Targets:", ""]
    for key, value in report["targets"].items():
        shown = f"{value:.3g}" if isinstance(value, float) else str(value)
        lines.append(f"- {key}: {shown}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument(
        "--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    parser.add_argument("--one", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--only", nargs="*", choices=CONTENDERS, default=CONTENDERS)
    parser.add_argument("--rounds", type=int, default=1, help="runs per contender (median)")
    parser.add_argument("--rate", type=float, default=50_000, help="kafka-paced: records/s")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args)))
        return 0
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in args.only}
    for round_no in range(args.rounds):  # interleaved, so load changes hit every contender
        for name in args.only:
            argv = [sys.executable, __file__, "--one", name, "--records", str(args.records)]
            argv += ["--bootstrap", args.bootstrap, "--rate", str(args.rate)]
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                runs[name].append({"error": proc.stderr.strip().splitlines()[-3:]})
            else:
                runs[name].append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"round {round_no + 1}", name, json.dumps(runs[name][-1]), flush=True)
    results = {name: median_of(found) for name, found in runs.items()}
    report: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "records": args.records,
        "results": results,
        "targets": targets(results),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "handler.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (RESULTS / "handler.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
