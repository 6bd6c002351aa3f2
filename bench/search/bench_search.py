"""Throughput of `kafka-logging search` and `tail` against their anchors, in one run.

search: N records in a fresh index on the local Elasticsearch; every contender is a fresh
process writing to /dev/null, so start-up is included for all of them:
  - anchor A: a bare elasticsearch-py loop (PIT + search_after, pages of 1000, orjson lines);
  - anchor B: elasticsearch.helpers.scan (scroll), what most scripts use;
  - ours: `kafka-logging search --since all --limit N --format ndjson` and `--format text`.
tail: N records in a fresh topic on the local Kafka, read from the beginning:
  - anchor: `kcat -C -o beginning -e -q` (raw librdkafka, no decoding at all);
  - ours: `kafka-logging tail --from-beginning --limit N --format ndjson` and text.

    .venv/bin/python bench/search/bench_search.py [--records 50000] [--rounds 3] [--only tail]

Reports, for each contender, the best of --rounds wall-clock time (records/s) and CPU time
(user + sys of the process), each with its ratio anchor / contender (> 1: faster than anchor).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from elasticsearch import Elasticsearch, helpers

from kafka_logging.wire.record import Encoding, encode_json, headers_for

ROOT = Path(__file__).resolve().parents[2]
CLI = str(ROOT / ".venv" / "bin" / "kafka-logging")
PY = str(ROOT / ".venv" / "bin" / "python")
ES = os.environ.get("ELASTICSEARCH_URL", "http://127.0.0.1:9200")
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")

RAW_PIT = """
import sys, orjson
from elasticsearch import Elasticsearch
index, limit = sys.argv[1], int(sys.argv[2])
es = Elasticsearch(sys.argv[3])
pit = es.open_point_in_time(index=index, keep_alive="2m")["id"]
after, n, out = None, 0, sys.stdout.buffer
while n < limit:
    page = es.search(pit={"id": pit, "keep_alive": "2m"}, size=min(1000, limit - n),
                     sort=[{"@timestamp": "desc"}], search_after=after, track_total_hits=False)
    hits = page["hits"]["hits"]
    for hit in hits:
        out.write(orjson.dumps(hit["_source"]) + b"\\n")
    n += len(hits)
    if len(hits) < 1000:
        break
    after, pit = hits[-1]["sort"], page["pit_id"]
es.close_point_in_time(id=pit)
"""

RAW_SCAN = """
import sys, orjson
from elasticsearch import Elasticsearch, helpers
es = Elasticsearch(sys.argv[3])
out = sys.stdout.buffer
for hit in helpers.scan(es, index=sys.argv[1], size=1000, query={"query": {"match_all": {}}}):
    out.write(orjson.dumps(hit["_source"]) + b"\\n")
"""


def record(i: int, moment: datetime) -> dict[str, object]:
    return {
        "@timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "message": f"GET /orders/{i} served in {i % 97} ms",
        "log": {"level": ("info", "warning", "error")[i % 3], "logger": "app.web"},
        "service": {"name": ("checkout", "billing")[i % 2]},
        "host": {"hostname": f"web-{i % 4}"},
        "event": {"id": uuid.uuid4().hex},
        "ecs": {"version": "8.17.0"},
        "order_id": i,
        "labels": {"env": "bench"},
    }


def timed(argv: list[str], rounds: int) -> tuple[float, float]:
    """Best wall-clock seconds and best CPU seconds (user + sys of the child) over rounds.

    CPU time is the steadier figure on a shared, loaded machine."""
    best_wall = best_cpu = float("inf")
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        with open(os.devnull, "wb") as sink:
            subprocess.run(argv, stdout=sink, stderr=subprocess.PIPE, check=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    return best_wall, best_cpu


def report(title: str, n: int, results: dict[str, tuple[float, float]], anchor: str) -> None:
    print(f"\n{title} ({n} records, best of rounds, incl. process start)")
    print(f"  {'':<40} {'wall s':>7} {'rec/s':>9} {'ratio':>6}  {'cpu s':>6} {'ratio':>6}")
    wall0, cpu0 = results[anchor]
    for name, (wall, cpu) in results.items():
        print(
            f"  {name:<40} {wall:7.2f} {n / wall:9.0f} {wall0 / wall:6.2f}"
            f"  {cpu:6.2f} {cpu0 / cpu:6.2f}"
        )


def bench_search(n: int, rounds: int) -> None:

    index = f"bench-search-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    with Elasticsearch(ES, request_timeout=120) as es:
        es.indices.create(
            index=index,
            settings={"number_of_replicas": 0},
            mappings={
                "properties": {
                    "@timestamp": {"type": "date"},
                    "message": {"type": "text"},
                    "log": {"properties": {"level": {"type": "keyword"}}},
                    "service": {"properties": {"name": {"type": "keyword"}}},
                }
            },
        )
        try:
            helpers.bulk(
                es,
                (
                    {"_index": index, "_source": record(i, now - timedelta(milliseconds=i))}
                    for i in range(n)
                ),
                chunk_size=5000,
                refresh="wait_for",
            )
            runs: dict[str, Callable[[], tuple[float, float]]] = {
                "anchor A: elasticsearch-py PIT loop": lambda: timed(
                    [PY, "-c", RAW_PIT, index, str(n), ES], rounds
                ),
                "anchor B: elasticsearch.helpers.scan": lambda: timed(
                    [PY, "-c", RAW_SCAN, index, str(n), ES], rounds
                ),
            }
            base = [CLI, "search", "--elasticsearch", ES, "--index", index, "--since", "all"]
            for fmt in ("ndjson", "text"):
                runs[f"ours: search --format {fmt}"] = lambda fmt=fmt: timed(  # type: ignore[misc]
                    [*base, "--limit", str(n), "--format", fmt], rounds
                )
            report(
                "search",
                n,
                {k: run() for k, run in runs.items()},
                "anchor A: elasticsearch-py PIT loop",
            )
        finally:
            es.indices.delete(index=index)


def bench_tail(n: int, rounds: int) -> None:

    topic = f"bench-tail-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": KAFKA})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    try:
        producer = Producer({"bootstrap.servers": KAFKA, "linger.ms": 20})
        now = datetime.now(UTC)
        for i in range(n):
            rec = record(i, now)
            producer.produce(topic, encode_json(rec), headers=headers_for(Encoding.JSON, "x"))
            if i % 10000 == 0:
                producer.poll(0)
        assert producer.flush(60) == 0
        runs: dict[str, tuple[float, float]] = {}
        kcat = shutil.which("kcat")
        anchor = "anchor: kcat -C -o beginning -e"
        if kcat:
            runs[anchor] = timed(
                [kcat, "-C", "-b", KAFKA, "-t", topic, "-o", "beginning", "-e", "-q"], rounds
            )
        base = [CLI, "tail", "--bootstrap-servers", KAFKA, "--topic", topic, "--from-beginning"]
        for fmt in ("ndjson", "text"):
            runs[f"ours: tail --format {fmt}"] = timed(
                [*base, "--limit", str(n), "--format", fmt], rounds
            )
        if not kcat:
            print("kcat not found: no anchor for tail", file=sys.stderr)
            anchor = next(iter(runs))
        report("tail", n, runs, anchor)
    finally:
        admin.delete_topics([topic])[topic].result(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["search", "tail"], default=None)
    args = parser.parse_args()
    if args.only in (None, "search"):
        bench_search(args.records, args.rounds)
    if args.only in (None, "tail"):
        bench_tail(args.records, args.rounds)


if __name__ == "__main__":
    main()
