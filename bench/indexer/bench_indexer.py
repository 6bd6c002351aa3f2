"""Indexer benchmark against the local stack (Kafka 127.0.0.1:9092, Elasticsearch :9200).

    .venv/bin/python bench/indexer/bench_indexer.py [--records 1000000] [--only NAME ...]

Parts (all in one run, same node, same template, results in bench/results/indexer-*.json):

- ceiling: the same documents bulk-indexed straight from memory with the best plain
  elasticsearch-py setup we found: NDJSON bodies prebuilt as bytes (no per-document Python
  work at all), `client.bulk` from K threads (--ceiling-threads, default 2: 4 was never
  faster on this node; the best of those given is taken), 2000 docs per request.
- rounds (--rounds): ceiling, one worker, ceiling, two workers; each ratio compares an
  indexer run with the ceiling run just before it (the machine is shared and noisy); medians.
- one / two: `kafka-logging index` processes (1, then 2 in one group) draining a topic
  pre-filled with the N records; docs/s from the first to the last document indexed (the
  indexer's own docs_indexed counter, sampled every 0.2 s), and wall time incl. start-up.
- share: ONE service ("shop") written by --share-processes processes through
  kafka_logging.KafkaHandler with its default message key into a --partitions topic; records
  per partition, then two indexers in one group drain it: docs and docs/s per worker (issue
  16: a busy service must be indexable by more than one indexer).
- latency: records emitted through kafka_logging.KafkaHandler at a steady 2,000/s; 1 in 20
  carries a token a searcher polls for (every 50 ms) with a search query: emit -> searchable
  with refresh_interval 1s; p50/p99 reported.
- outage: a private Elasticsearch node is stopped for 60 s while the handler keeps writing at
  2,000/s; the indexer's peak RSS (VmHWM) is reported, and the count checked after recovery.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from elasticsearch import Elasticsearch

from indexer.config import IndexSettings
from indexer.template import install_template
from kafka_logging.engines.client import EngineClient
from kafka_logging.handler import KafkaHandler
from kafka_logging.stack import manager
from kafka_logging.stack.settings import StackSettings, default_cache_dir, private_stack
from kafka_logging.wire.record import Encoding, encode_json, headers_for, random_event_id

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
ES = os.environ.get("ELASTICSEARCH_URL", "http://127.0.0.1:9200")
CLI = str(Path(sys.executable).parent / "kafka-logging")
RUN = uuid.uuid4().hex[:6]


def say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_record(i: int, now: datetime) -> dict[str, Any]:
    """A typical handler record (~450 bytes of JSON)."""
    return {
        "@timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "message": f"GET /api/orders/{i} 200 served in {i % 97} ms for customer {i % 1013}",
        "log": {
            "level": "info",
            "logger": "shop.web.orders",
            "origin": {"file": {"name": "orders.py", "line": 120}, "function": "get_order"},
        },
        "ecs": {"version": "8.17.0"},
        "event": {"id": random_event_id(), "dataset": "shop.web"},
        "service": {"name": "shop", "version": "1.4.2", "environment": "bench"},
        "host": {"hostname": "web-1"},
        "process": {"pid": 4242, "thread": {"id": 140001, "name": "worker-3"}},
        "trace": {"id": uuid.uuid4().hex},
        "labels": {"customer_tier": "gold" if i % 3 else "silver"},
    }


def create_topic(name: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": KAFKA})
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[
        name
    ].result(30)


def delete_topics(*names: str) -> None:
    admin = AdminClient({"bootstrap.servers": KAFKA})
    for future in admin.delete_topics(list(names)).values():
        try:
            future.result(30)
        except Exception as exc:
            say(f"delete topic: {exc}")


def prefill(topic: str, values: list[bytes], ids: list[str], partitions: int) -> float:
    producer = Producer(
        {
            "bootstrap.servers": KAFKA,
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 500_000,
        }
    )
    started = time.monotonic()
    for i, (value, event_id) in enumerate(zip(values, ids, strict=True)):
        while True:
            try:
                producer.produce(
                    topic,
                    value,
                    partition=i % partitions,
                    headers=headers_for(Encoding.JSON, event_id),
                )
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(120) == 0
    return time.monotonic() - started


def index_settings(prefix: str) -> IndexSettings:
    return IndexSettings(
        pattern=f"{prefix}-%Y.%m.%d",
        template_name=f"{prefix}-tpl",
        replicas=0,
        refresh_interval="1s",
    )


def engine(url: str | None = None, **options: Any) -> EngineClient:
    """The project's own client: works with every supported engine (--search-engine)."""
    return EngineClient([url or ES], request_timeout=120, max_retries=3, options=options)


def cleanup_es(es: EngineClient, prefix: str) -> None:
    es.delete_matching(f"{prefix}-*")
    es.delete_index_template(f"{prefix}-tpl")


def count(es: EngineClient, prefix: str) -> int:
    es.refresh(f"{prefix}-*")
    return es.count(f"{prefix}-*")


# ------------------------------------------------------------------ ceiling


def ceiling(es: EngineClient, values: list[bytes], ids: list[str], threads: int) -> dict[str, Any]:
    prefix = f"bench-ceil{threads}-{RUN}-{uuid.uuid4().hex[:4]}"
    install_template(es, index_settings(prefix))
    index = datetime.now(UTC).strftime(f"{prefix}-%Y.%m.%d")
    bodies: list[bytes] = []
    chunk = 2000
    for start in range(0, len(values), chunk):
        parts: list[bytes] = []
        for value, event_id in zip(
            values[start : start + chunk], ids[start : start + chunk], strict=True
        ):
            parts.append(
                b'{"create":{"_index":"%s","_id":"%s"}}' % (index.encode(), event_id.encode())
            )
            parts.append(value)
        bodies.append(b"\n".join(parts) + b"\n")
    # The same thin client the indexer uses (no per-document work: bodies are prebuilt).
    client = EngineClient([ES], request_timeout=120, options={"connections_per_node": threads})
    errors = 0

    def send(body: bytes) -> int:
        resp = client.bulk(body, filter_path="errors,items.*.error")
        return sum(1 for item in resp.get("items", []) if "error" in item["create"])

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        for failed in pool.map(send, bodies):
            errors += failed
    elapsed = time.monotonic() - started
    total = count(es, prefix)
    cleanup_es(es, prefix)
    client.close()
    rate = len(values) / elapsed
    say(
        f"ceiling threads={threads}: {rate:,.0f} docs/s ({elapsed:.1f} s,"
        f" {errors} item errors, {total} docs)"
    )
    return {
        "load_average": os.getloadavg()[0],
        "threads": threads,
        "docs_per_s": rate,
        "seconds": elapsed,
        "item_errors": errors,
        "docs": total,
    }


# ------------------------------------------------------------------ indexer processes


def indexer_config(
    path: Path, topic: str, prefix: str, group: str, es_url: str | None = None, **extra: Any
) -> Path:
    data: dict[str, Any] = {
        "kafka": {"bootstrap_servers": KAFKA},
        # ES is read now, not at import: --search-engine points it at a private node.
        "elasticsearch": {"hosts": [es_url or ES], "request_timeout": 60},
        "consumer": {"topics": [topic], "group_id": group},
        "index": {
            "pattern": f"{prefix}-%Y.%m.%d",
            "template_name": f"{prefix}-tpl",
            "replicas": 0,
            "refresh_interval": "1s",
        },
        "dlq": {"topic": f"{topic}.dlq"},
        "metrics": {"port": free_port()},
        "log_level": "WARNING",
    }
    for key, value in extra.items():
        data.setdefault(key, {}).update(value)
    path.write_text(yaml.safe_dump(data))
    return path


def spawn(config: Path, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = yaml.safe_load(config.read_text())["metrics"]["port"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [CLI, "index", "--config", str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    return proc, port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scrape(port: int, name: str) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def drain(topic: str, n: int, workers: int, work: Path) -> dict[str, Any]:
    prefix = f"bench-w{workers}-{RUN}-{uuid.uuid4().hex[:4]}"
    group = f"bench-{prefix}"  # a new group each run: it reads the topic from the start
    procs = []
    started = time.monotonic()
    for w in range(workers):
        config = indexer_config(work / f"w{workers}-{w}.yaml", topic, prefix, group)
        procs.append(spawn(config, work / f"w{workers}-{w}.log"))
    first = last = None
    pause = threading.Event()
    deadline = started + 1800
    done = 0.0
    while time.monotonic() < deadline:
        done = sum(scrape(port, "kafka_logging_indexer_docs_indexed_total") for _, port in procs)
        now = time.monotonic()
        if done > 0 and first is None:
            first = now
        if done >= n:
            last = now
            break
        pause.wait(0.2)
    assert first is not None, "nothing indexed"
    assert last is not None, f"only {done:.0f} of {n} indexed"
    per_worker = [
        int(scrape(port, "kafka_logging_indexer_docs_indexed_total")) for _, port in procs
    ]
    cpu = sum(cpu_seconds(proc.pid) for proc, _ in procs)
    for proc, _ in procs:
        proc.send_signal(signal.SIGTERM)
    codes = [proc.wait(60) for proc, _ in procs]
    es = engine()
    total = count(es, prefix)
    cleanup_es(es, prefix)
    es.close()
    rate = n / (last - first)
    say(
        f"indexer x{workers}: {rate:,.0f} docs/s steady ({last - first:.1f} s first->last doc),"
        f" {n / (last - started):,.0f} docs/s incl. start-up; {total} docs; exit codes {codes};"
        f" indexer CPU {cpu / n * 1e6:.1f} us/doc; docs per worker {per_worker}"
    )
    return {
        "load_average": os.getloadavg()[0],
        "workers": workers,
        "per_worker_docs": per_worker,
        "per_worker_docs_per_s": [d / (last - first) for d in per_worker],
        "docs_per_s": rate,
        "docs_per_s_with_startup": n / (last - started),
        "seconds": last - first,
        "docs": total,
        "exit_codes": codes,
        "indexer_cpu_us_per_doc": cpu / n * 1e6,
    }


# ------------------------------------------------------------------ one service, two indexers


def emit_as_one_service(topic: str, count: int, service: str, key: str | None) -> None:
    """One process of `service`: `count` records through KafkaHandler with its default key
    (or `key_field=key` when given), then a flush. Run in forked children."""
    options: dict[str, Any] = {} if key is None else {"key_field": key}
    handler = KafkaHandler(KAFKA, topic, service_name=service, **options)
    logger = logging.getLogger(f"bench.share.{os.getpid()}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    for i in range(count):
        logger.info("GET /api/orders/%d 200 served in %d ms", i, i % 97)
    handler.flush()
    handler.close()


def partition_counts(topic: str, partitions: int) -> list[int]:
    from confluent_kafka import Consumer, TopicPartition  # noqa: PLC0415

    consumer = Consumer({"bootstrap.servers": KAFKA, "group.id": f"bench-wm-{RUN}"})
    try:
        counts = []
        for p in range(partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
            counts.append(high - low)
        return counts
    finally:
        consumer.close()


def share(
    work: Path, records: int, processes: int, partitions: int, key: str | None = None
) -> dict[str, Any]:
    """Records of ONE service, written by `processes` processes through KafkaHandler with its
    default key, into a `partitions`-partition topic; then two indexers in one group drain
    it. Shows how the handler's key spreads one service, and what each indexer gets."""
    import multiprocessing  # noqa: PLC0415

    topic = f"bench-share-{RUN}"
    create_topic(topic, partitions)
    per_process = records // processes
    total = per_process * processes
    say(f"share: {processes} processes of service 'shop' write {total:,} records via KafkaHandler")
    started = time.monotonic()
    context = multiprocessing.get_context("fork")  # no producer exists in this process yet
    children = [
        context.Process(target=emit_as_one_service, args=(topic, per_process, "shop", key))
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join()
    produce_seconds = time.monotonic() - started
    spread = partition_counts(topic, partitions)
    say(f"share: records per partition {spread} ({produce_seconds:.1f} s to write)")
    two = drain(topic, total, 2, work)
    delete_topics(topic, f"{topic}.dlq")
    return {
        "service": "shop",
        "key_field": key or "the handler's default",
        "processes": processes,
        "records": total,
        "partitions": partitions,
        "records_per_partition": spread,
        "write_seconds": produce_seconds,
        "two_workers": two,
    }


# ------------------------------------------------------------------ latency


def steady_emit(
    logger: logging.Logger,
    rate: int,
    seconds: float,
    probe_every: int,
    on_probe: Callable[[str, float], None],
) -> int:
    tick = 0.01
    per_tick = max(1, int(rate * tick))
    pause = threading.Event()
    start = time.monotonic()
    sent = 0
    ticks = int(seconds / tick)
    for t in range(ticks):
        for _ in range(per_tick):
            if sent % probe_every == 0:
                token = f"probe{RUN}x{sent}"
                on_probe(token, time.time())
                logger.info(token)
            else:
                logger.info("GET /api/orders/%d 200 served", sent)
            sent += 1
        delay = start + (t + 1) * tick - time.monotonic()
        if delay > 0:
            pause.wait(delay)
    return sent


def latency(work: Path, rate: int, seconds: float) -> dict[str, Any]:
    topic = f"bench-lat-{RUN}"
    prefix = f"bench-lat-{RUN}"
    create_topic(topic, 4)
    config = indexer_config(
        work / "lat.yaml", topic, prefix, f"bench-{prefix}", batch={"max_wait": 0.05}
    )
    proc, _port = spawn(config, work / "lat.log")
    es = Elasticsearch(ES, request_timeout=30)
    pending: dict[str, float] = {}
    seen: dict[str, float] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def on_probe(token: str, emitted: float) -> None:
        with lock:
            pending[token] = emitted

    def searcher() -> None:
        while not stop.is_set() or pending:
            with lock:
                tokens = list(pending)[:500]
            if tokens:
                try:
                    hits = es.search(
                        index=f"{prefix}-*",
                        query={"terms": {"message.keyword": tokens}},
                        size=len(tokens),
                        source=["message"],
                        allow_no_indices=True,
                        ignore_unavailable=True,
                    )["hits"]["hits"]
                except Exception as exc:
                    say(f"search: {exc}")
                    hits = []
                now = time.time()
                with lock:
                    for hit in hits:
                        token = hit["_source"]["message"]
                        if token in pending:
                            seen[token] = now - pending.pop(token)
            if stop.wait(0.05) and time.time() > deadline[0]:
                break

    deadline = [time.time() + 3600]
    handler = KafkaHandler(KAFKA, topic, service_name="bench-latency")
    logger = logging.getLogger(f"bench.latency.{RUN}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    # warm up: the indexer joined and installed its template
    logger.info("warm-up")
    threading.Event().wait(5)
    thread = threading.Thread(target=searcher, daemon=True)
    thread.start()
    sent = steady_emit(logger, rate, seconds, 20, on_probe)
    handler.flush()
    deadline[0] = time.time() + 30
    stop.set()
    thread.join(60)
    handler.close()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(60)
    total = count(es, prefix)
    cleanup_es(es, prefix)
    es.close()
    delete_topics(topic, f"{topic}.dlq")
    values = sorted(seen.values())
    p = lambda q: values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")  # noqa: E731
    result = {
        "rate": rate,
        "seconds": seconds,
        "emitted": sent,
        "indexed": total,
        "probes": len(values),
        "probes_missing": len(pending),
        "p50_s": p(0.50),
        "p99_s": p(0.99),
        "max_s": values[-1] if values else None,
        "exit_code": code,
    }
    say(
        f"latency at {rate}/s: p50 {result['p50_s']:.3f} s, p99 {result['p99_s']:.3f} s"
        f" over {len(values)} probes"
    )
    return result


# ------------------------------------------------------------------ outage


def outage(work: Path, rate: int, down_for: float) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="kl-bench-es-", dir="/var/tmp"))
    os.chmod(base, 0o755)
    settings = StackSettings(
        cache_dir=default_cache_dir(),
        data_dir=base,
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        es_port=free_port(),
        es_transport_port=free_port(),
        es_heap="512m",
    )
    quiet = lambda m: None  # noqa: E731
    manager.up(settings, quiet, only=["elasticsearch"])
    es_url = settings.es_url
    topic = f"bench-out-{RUN}"
    prefix = f"bench-out-{RUN}"
    create_topic(topic, 4)
    config = indexer_config(work / "out.yaml", topic, prefix, f"bench-{prefix}", es_url=es_url)
    proc, port = spawn(config, work / "out.log")
    handler = KafkaHandler(KAFKA, topic, service_name="bench-outage")
    logger = logging.getLogger(f"bench.outage.{RUN}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    rss: list[int] = []
    series: list[tuple[float, int, float]] = []  # (t, RSS MiB, buffered MiB)
    stop = threading.Event()
    t0 = time.monotonic()

    def sample() -> None:
        while not stop.wait(0.5):
            try:
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        rss.append(int(line.split()[1]) * 1024)
            except OSError:
                return
            buffered = scrape(port, "kafka_logging_indexer_buffered_bytes")
            series.append(
                (round(time.monotonic() - t0, 1), rss[-1] // 2**20, round(buffered / 2**20, 1))
            )

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    threading.Event().wait(3)
    sent = steady_emit(logger, rate, 10, 10**9, lambda *_: None)
    say("outage: stopping the private Elasticsearch node")
    manager.down(settings, quiet, only=["elasticsearch"])
    down_started = time.monotonic()
    sent += steady_emit(logger, rate, down_for, 10**9, lambda *_: None)
    health = ""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
            health = resp.read().decode()
    except urllib.error.HTTPError as exc:
        health = exc.read().decode()
    rss_down_max = max(rss) if rss else 0
    say(f"outage: {time.monotonic() - down_started:.0f} s down, health {health}; starting the node")
    manager.up(settings, quiet, only=["elasticsearch"])
    sent += steady_emit(logger, rate, 5, 10**9, lambda *_: None)
    handler.flush()
    handler.close()
    es = Elasticsearch(es_url, request_timeout=60)
    deadline = time.monotonic() + 300
    total = 0
    while time.monotonic() < deadline:
        total = count(es, prefix)
        if total >= sent:
            break
        threading.Event().wait(1)
    hwm = 0
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) * 1024
    stop.set()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(60)
    es.close()
    manager.down(settings, quiet, only=["elasticsearch"])
    shutil.rmtree(base, ignore_errors=True)
    delete_topics(topic, f"{topic}.dlq")
    result = {
        "rate": rate,
        "down_seconds": down_for,
        "emitted": sent,
        "indexed_after_recovery": total,
        "rss_max_bytes_while_down": rss_down_max,
        "rss_peak_bytes_vmhwm": hwm,
        "health_while_down": health,
        "series_t_rss_mib_buffered_mib": series,
        "exit_code": code,
    }
    say(
        f"outage: peak RSS {hwm / 2**20:.0f} MiB"
        f" (max sampled while down {rss_down_max / 2**20:.0f} MiB);"
        f" {total}/{sent} indexed after recovery; exit {code}"
    )
    return result


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--ceiling-threads", type=int, nargs="+", default=[2])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--latency-rate", type=int, default=2000)
    parser.add_argument("--latency-seconds", type=float, default=30)
    parser.add_argument("--outage-seconds", type=float, default=60)
    parser.add_argument("--share-records", type=int, default=200_000)
    parser.add_argument("--share-processes", type=int, default=8)
    parser.add_argument(
        "--share-key",
        default=None,
        help="key_field for the share part's handlers (default: the handler's own default)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["throughput", "share", "latency", "outage"],
        default=["throughput", "share", "latency", "outage"],
    )
    parser.add_argument(
        "--search-engine",
        default=None,
        help="Run against a private node of this engine (PRODUCT:VERSION, e.g. "
        "opensearch:2.19.1) instead of the stack's Elasticsearch; throughput only.",
    )
    args = parser.parse_args()
    if args.search_engine:
        with private_engine(args.search_engine):
            run(args)
    else:
        run(args)


@contextlib.contextmanager
def private_engine(spec: str) -> Iterator[None]:
    """A private node of `spec` on free ports (ES points at it) for the whole run."""
    global ES  # noqa: PLW0603 - every part reads the URL from here
    base = Path(tempfile.mkdtemp(prefix="bench-engine-", dir="/var/tmp"))
    os.chmod(base, 0o755)
    settings = private_stack(base, search_engine=spec, es_heap="1g")
    manager.up(settings, say, only=["elasticsearch"])
    ES = settings.es_url
    try:
        yield
    finally:
        manager.down(settings, say)
        shutil.rmtree(base, ignore_errors=True)


def run(args: argparse.Namespace) -> None:
    if args.search_engine:
        args.only = [part for part in args.only if part == "throughput"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-indexer-"))
    results: dict[str, Any] = {
        "run": RUN,
        "started": datetime.now(UTC).isoformat(),
        "records": args.records,
        "partitions": args.partitions,
        "cpus": os.cpu_count(),
        "load_at_start": os.getloadavg(),
        "search_engine": args.search_engine or "stack",
    }
    out = RESULTS / f"indexer-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    try:
        if "throughput" in args.only:
            topic = f"bench-fill-{RUN}"
            create_topic(topic, args.partitions)
            now = datetime.now(UTC)
            records = [make_record(i, now) for i in range(args.records)]
            ids = [r["event"]["id"] for r in records]
            values = [encode_json(r) for r in records]
            del records
            results["avg_record_bytes"] = sum(map(len, values)) / len(values)
            say(
                f"prefilling {topic} with {args.records:,} records"
                f" ({results['avg_record_bytes']:.0f} B avg)"
            )
            results["prefill_seconds"] = prefill(topic, values, ids, args.partitions)
            es = engine()
            results["engine"] = es.engine().name
            # Rounds interleave ceiling and indexer runs: the machine is shared and noisy,
            # so each ratio compares runs minutes apart, and the median is reported.
            rounds = []
            for r in range(args.rounds):
                say(f"round {r + 1}/{args.rounds} (load average {os.getloadavg()[0]:.1f})")
                # Each indexer run right after its own ceiling run: adjacent runs share
                # the machine's load as closely as we can arrange.
                ceil_one = [ceiling(es, values, ids, t) for t in args.ceiling_threads]
                one = drain(topic, args.records, 1, work)
                ceil_two = [ceiling(es, values, ids, t) for t in args.ceiling_threads]
                two = drain(topic, args.records, 2, work)
                best_one = max(c["docs_per_s"] for c in ceil_one)
                best_two = max(c["docs_per_s"] for c in ceil_two)
                rounds.append(
                    {
                        "ceiling_before_one": ceil_one,
                        "one_worker": one,
                        "ceiling_before_two": ceil_two,
                        "two_workers": two,
                        "ratio_one_worker": one["docs_per_s"] / best_one,
                        "ratio_two_workers": two["docs_per_s"] / best_two,
                    }
                )
                last = rounds[-1]
                say(
                    f"round {r + 1}: one worker {last['ratio_one_worker']:.0%} of"
                    f" {best_one:,.0f}/s, two {last['ratio_two_workers']:.0%} of {best_two:,.0f}/s"
                )
            results["rounds"] = rounds
            results["median_ratio_one_worker"] = statistics.median(
                r["ratio_one_worker"] for r in rounds
            )
            results["median_ratio_two_workers"] = statistics.median(
                r["ratio_two_workers"] for r in rounds
            )
            say(
                f"median ratio to ceiling: one worker {results['median_ratio_one_worker']:.0%},"
                f" two workers {results['median_ratio_two_workers']:.0%}"
            )
            del values, ids
            delete_topics(topic, f"{topic}.dlq")
            es.close()
        if "share" in args.only:
            results["share"] = share(
                work, args.share_records, args.share_processes, args.partitions, args.share_key
            )
        if "latency" in args.only:
            results["latency"] = latency(work, args.latency_rate, args.latency_seconds)
        if "outage" in args.only:
            results["outage"] = outage(work, args.latency_rate, args.outage_seconds)
    finally:
        results["load_at_end"] = os.getloadavg()
        out.write_text(json.dumps(results, indent=2, default=str))
        say(f"results in {out}")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
