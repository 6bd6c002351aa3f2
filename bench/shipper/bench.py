"""Shipper benchmark: lines/s from a large file to the local broker, acknowledged and
checkpointed, against `kcat -P` (raw librdkafka, the ceiling) and rsyslog imfile -> omkafka,
in one run on the same file and broker. Also JSON lines, multiline, and RSS while tailing
1,000 files; and a container case: the same text lines plain and as containerd writes them
(`<time> stdout F <line>` under /var/log/pods-like paths, `format: cri`), alternately.

    .venv/bin/python bench/shipper/bench.py --size-mb 1024 --rounds 3
    .venv/bin/python bench/shipper/bench.py --only-cri --cri-lines 1500000 --rounds 2

kcat and the shipper contenders (default: the shipper with output.workers 0 and 2) run
alternately, --rounds times each, on the same file, each into a fresh topic; the report gives
every value and the median, and the ratio of the shipper's median to kcat's median (and per
round). For every run it also records the CPU seconds of the contender (all its processes and
threads) and of the broker (its pid from `kafka-logging stack status`), so per-line CPU costs
can be compared. Writes bench/results/shipper-<UTC time>.json. Files go under /var/tmp and are
deleted after. Every producer uses acks=all + idempotence + lz4 + linger 20 ms. The shipper
runs as the real CLI process; it is "done" when its checkpoint (written only for acknowledged
records) reaches the end of the file. kcat is done when it exited (it flushes: every message
acknowledged) and the topic holds every line; rsyslog when the topic holds every line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "kafka-logging")
PRODUCER = {"acks": "all", "enable.idempotence": "true", "linger.ms": "20"}
PRODUCER["compression.type"] = "lz4"

LEVELS = ["INFO"] * 8 + ["WARN", "ERROR", "DEBUG"]
PATHS = ["/api/v1/items", "/api/v1/orders", "/health", "/api/v2/users", "/login"]


def text_line(rng: random.Random, i: int) -> str:
    return (
        f"2026-11-22T04:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}Z "
        f"{rng.choice(LEVELS):5s} [worker-{i % 8}] app.http.handler: request id={i:09d} "
        f"user=user{rng.randrange(5000)} path={rng.choice(PATHS)}/{rng.randrange(10**6)} "
        f"status={rng.choice([200, 200, 200, 201, 404, 500])} "
        f"duration_ms={rng.random() * 100:.2f} trace_id={rng.getrandbits(128):032x} "
        f"agent=Mozilla/5.0"
    )


def json_line(rng: random.Random, i: int) -> str:
    stamp = f"2026-11-22T04:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}Z"
    return json.dumps(
        {
            "@timestamp": stamp,
            "log.level": rng.choice(LEVELS).lower(),
            "message": f"request id={i:09d} path={rng.choice(PATHS)}",
            "http": {"response": {"status_code": 200}},
            "user": {"name": f"user{rng.randrange(5000)}"},
        },
        separators=(",", ":"),
    )


TRACE = (
    "Traceback (most recent call last):\n"
    '  File "/srv/app/handler.py", line 42, in handle\n'
    "    result = process(request)\n"
    '  File "/srv/app/process.py", line 7, in process\n'
    "    raise ValueError(f'bad input {x}')\n"
    "ValueError: bad input 42"
)


def generate(path: Path, size: int, kind: str) -> int:
    """Write about `size` bytes of `kind` lines; returns the number of records."""
    rng = random.Random(7)
    records = 0
    written = 0
    with open(path, "w") as f:
        while written < size:
            chunk = []
            for _ in range(10000):
                if kind == "json":
                    chunk.append(json_line(rng, records))
                elif kind == "multiline" and records % 10 == 9:
                    chunk.append(text_line(rng, records) + "\n" + TRACE)
                else:
                    chunk.append(text_line(rng, records))
                records += 1
            data = "\n".join(chunk) + "\n"
            f.write(data)
            written += len(data)
    return records


def generate_cri(plain: Path, pods: Path, lines: int) -> tuple[Path, Path]:
    """`lines` text lines, plain and as containerd writes them (stdout, F, RFC3339Nano);
    returns (plain file, CRI file)."""
    rng = random.Random(7)
    cri = pods / "shop_web-7d9f-x2x7q_0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0" / "app" / "0.log"
    cri.parent.mkdir(parents=True, exist_ok=True)
    with open(plain, "w") as out_plain, open(cri, "w") as out_cri:
        for start in range(0, lines, 10000):
            chunk = [text_line(rng, i) for i in range(start, min(lines, start + 10000))]
            out_plain.write("\n".join(chunk) + "\n")
            out_cri.write(
                "".join(
                    f"2026-11-22T04:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}."
                    f"{i % 1000:03d}{(i * 7919) % 1000000:06d}Z stdout F {line}\n"
                    for i, line in enumerate(chunk, start)
                )
            )
    return plain, cri


def cri_rounds(args: argparse.Namespace, work: Path, results: dict[str, Any]) -> None:
    """The same lines plain (parser text) and in containerd's envelope (format cri, kubernetes
    metadata from the path), alternately, --rounds times each, one producer in-process."""
    plain, cri = generate_cri(work / "plain.log", work / "pods", args.cri_lines)
    runs: dict[str, list[dict[str, Any]]] = {"plain": [], "cri": []}
    broker = broker_pid()
    for _ in range(args.rounds):
        runs["plain"].append(run_shipper(args.bootstrap, plain, args.cri_lines, {}, 0, broker))
        print("plain", runs["plain"][-1], flush=True)
        extra = {"format": "cri", "service": "{container}"}
        runs["cri"].append(run_shipper(args.bootstrap, cri, args.cri_lines, extra, 0, broker))
        print("cri", runs["cri"][-1], flush=True)
    results["cri_case"] = {
        "lines": args.cri_lines,
        "plain_bytes": plain.stat().st_size,
        "cri_bytes": cri.stat().st_size,
        "plain": runs["plain"],
        "cri": runs["cri"],
        "median_lines_per_s": {k: summary(v)["median_lines_per_s"] for k, v in runs.items()},
        "median_cpu_us_per_line": {
            k: statistics.median(r["cpu_us_per_line"] for r in v) for k, v in runs.items()
        },
    }


def lines_in(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b""))


def create_topic(bootstrap: str, name: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])[name].result(30)


def delete_topic(bootstrap: str, name: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.delete_topics([name])[name].result(30)


def high_watermark(bootstrap: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-watermark"})
    try:
        _low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        return int(high)
    finally:
        consumer.close()


def wait_for_topic(bootstrap: str, topic: str, count: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if high_watermark(bootstrap, topic) >= count:
            return time.monotonic()
        time.sleep(0.05)
    raise TimeoutError(f"{topic}: fewer than {count} messages after {timeout}s")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """pid and every process below it."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                text = Path(f"/proc/{current}/task/{task}/children").read_text()
                todo.extend(int(c) for c in text.split())
        except OSError:
            continue
    return out


def broker_pid() -> int | None:
    status = subprocess.run(
        [CLI, "stack", "status", "--json"], capture_output=True, text=True, check=False
    )
    try:
        pids = json.loads(status.stdout)["services"]["kafka"]["pids"]
    except (ValueError, KeyError):
        return None
    return int(pids[0]) if pids else None


class BrokerCpu:
    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.start = cpu_seconds(pid) if pid else 0.0

    def used(self) -> float | None:
        return cpu_seconds(self.pid) - self.start if self.pid else None


def per_line(result: dict[str, Any], lines: int) -> dict[str, Any]:
    for name in ("cpu_seconds", "broker_cpu_seconds"):
        if result.get(name) is not None:
            result[name.replace("seconds", "us_per_line")] = result[name] / lines * 1e6
    return result


def run_kcat(bootstrap: str, path: Path, lines: int, broker: int | None) -> dict[str, Any]:
    topic = f"bench-kcat-{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic)
    args = ["kcat", "-P", "-b", bootstrap, "-t", topic, "-l", str(path)]
    for key, value in PRODUCER.items():
        args += ["-X", f"{key}={value}"]
    load = os.getloadavg()[0]
    cpu = BrokerCpu(broker)
    start = time.monotonic()
    proc = subprocess.Popen(args)
    _pid, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise RuntimeError(f"kcat failed: {status}")
    end = wait_for_topic(bootstrap, topic, lines, 600)
    broker_cpu = cpu.used()
    delete_topic(bootstrap, topic)
    result = {
        "seconds": end - start,
        "lines_per_s": lines / (end - start),
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "broker_cpu_seconds": broker_cpu,
        "load_1m_before": load,
    }
    return per_line(result, lines)


RSYSLOG_CONF = """
global(workDirectory="{work}")
module(load="imfile")
module(load="omkafka")
input(type="imfile" File="{file}" Tag="bench" ruleset="tokafka" freshStartTail="off"
      readMode="0" reopenOnTruncate="on")
template(name="raw" type="string" string="%msg%")
ruleset(name="tokafka" queue.type="LinkedList" queue.size="200000"
        queue.dequeueBatchSize="10000") {{
  action(type="omkafka" broker=["{bootstrap}"] topic="{topic}" template="raw"
         confParam=["acks=all", "enable.idempotence=true", "linger.ms=20",
                    "compression.type=lz4"])
}}
"""


def run_rsyslog(bootstrap: str, path: Path, lines: int) -> dict[str, Any]:
    if shutil.which("rsyslogd") is None:
        return {"skipped": "rsyslogd not installed (apt-get install rsyslog rsyslog-kafka)"}
    topic = f"bench-rsyslog-{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic)
    work = Path(tempfile.mkdtemp(prefix="rsyslog-bench-", dir="/var/tmp"))
    conf = work / "rsyslog.conf"
    conf.write_text(RSYSLOG_CONF.format(work=work, file=path, bootstrap=bootstrap, topic=topic))
    start = time.monotonic()
    proc = subprocess.Popen(
        ["rsyslogd", "-n", "-f", str(conf), "-i", str(work / "pid")],
        stdout=subprocess.DEVNULL,
        stderr=open(work / "stderr", "w"),  # noqa: SIM115
    )
    try:
        end = wait_for_topic(bootstrap, topic, lines, 900)
    except TimeoutError as exc:
        return {"failed": str(exc), "stderr": (work / "stderr").read_text()[-2000:]}
    finally:
        proc.terminate()
        proc.wait(30)
        delete_topic(bootstrap, topic)
        shutil.rmtree(work, ignore_errors=True)
    return {"seconds": end - start, "lines_per_s": lines / (end - start)}


def shipper_config(
    work: Path,
    bootstrap: str,
    topic: str,
    paths: list[str],
    extra: dict[str, Any],
    workers: int = 0,
) -> Path:
    data: dict[str, Any] = {
        "kafka": {"bootstrap_servers": bootstrap},
        "output": {"topic": topic, "workers": workers},
        "inputs": [{"paths": paths, "service": "bench", **extra}],
        "checkpoint": {"path": str(work / "checkpoint.json"), "interval_seconds": 0.2},
        "metrics": {"enabled": False},
        "limits": {"idle_close_seconds": 5},
    }
    path = work / "shipper.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def checkpoint_offsets(path: Path) -> dict[str, int]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {f["path"]: f["offset"] for f in document["body"]["files"]}


def run_shipper(
    bootstrap: str,
    path: Path,
    records: int,
    extra: dict[str, Any],
    workers: int = 0,
    broker: int | None = None,
    hot_path: str = "rust",
) -> dict[str, Any]:
    topic = f"bench-shipper-{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic)
    work = Path(tempfile.mkdtemp(prefix="shipper-bench-", dir="/var/tmp"))
    config = shipper_config(work, bootstrap, topic, [str(path)], extra, workers)
    size = path.stat().st_size
    load = os.getloadavg()[0]
    cpu = BrokerCpu(broker)
    start = time.monotonic()
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_LOGGING_PURE"}
    if hot_path == "python":
        env["KAFKA_LOGGING_PURE"] = "1"
    proc = subprocess.Popen(
        [CLI, "ship", "--config", str(config), "--log-level", "warning"], env=env
    )
    peak_rss = 0
    used: dict[int, float] = {}
    try:
        while checkpoint_offsets(work / "checkpoint.json").get(str(path), 0) < size:
            tree = descendants(proc.pid)
            peak_rss = max(peak_rss, sum(rss_kb(pid) for pid in tree))
            used.update((pid, cpu_seconds(pid)) for pid in tree)
            if proc.poll() is not None:
                raise RuntimeError(f"shipper exited with {proc.returncode}")
            time.sleep(0.05)
        end = time.monotonic()
        used.update((pid, cpu_seconds(pid)) for pid in descendants(proc.pid))
        broker_cpu = cpu.used()
    finally:
        proc.terminate()
        proc.wait(60)
    in_topic = high_watermark(bootstrap, topic)
    delete_topic(bootstrap, topic)
    shutil.rmtree(work, ignore_errors=True)
    result = {
        "workers": workers,
        "path": hot_path,
        "seconds": end - start,
        "lines_per_s": records / (end - start),
        "mb_per_s": size / 1e6 / (end - start),
        "records_in_topic": in_topic,
        "peak_rss_mb": peak_rss / 1024,
        "cpu_seconds": sum(used.values()),
        "broker_cpu_seconds": broker_cpu,
        "load_1m_before": load,
    }
    return per_line(result, records)


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_many_files(bootstrap: str, count: int, seconds: float) -> dict[str, Any]:
    """RSS of the shipper while tailing `count` files that keep growing."""
    topic = f"bench-many-{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic)
    work = Path(tempfile.mkdtemp(prefix="shipper-many-", dir="/var/tmp"))
    logs = work / "logs"
    logs.mkdir()
    rng = random.Random(3)
    for i in range(count):
        (logs / f"f{i:04d}.log").write_text("".join(text_line(rng, j) + "\n" for j in range(100)))
    config = shipper_config(work, bootstrap, topic, [str(logs / "*.log")], {})
    proc = subprocess.Popen([CLI, "ship", "--config", str(config), "--log-level", "warning"])
    peak = 0
    written = 100 * count
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            for i in rng.sample(range(count), 100):
                with open(logs / f"f{i:04d}.log", "a") as f:
                    f.write(text_line(rng, written) + "\n")
                written += 1
            peak = max(peak, rss_kb(proc.pid))
            time.sleep(0.1)
        wait_for_topic(bootstrap, topic, written, 120)
        peak = max(peak, rss_kb(proc.pid))
    finally:
        proc.terminate()
        proc.wait(60)
        delete_topic(bootstrap, topic)
        shutil.rmtree(work, ignore_errors=True)
    return {"files": count, "lines": written, "peak_rss_mb": peak / 1024}


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    values = [r["lines_per_s"] for r in runs]
    return {"median_lines_per_s": statistics.median(values), "lines_per_s": values, "runs": runs}


def contender(workers: int, path: str) -> str:
    return f"shipper_w{workers}" + ("" if path == "rust" else f"_{path}")


def text_rounds(args: argparse.Namespace, text: Path, records: int) -> dict[str, Any]:
    """kcat and each shipper contender alternately, args.rounds times, fresh topic each run."""
    broker = broker_pid()
    runs: dict[str, list[dict[str, Any]]] = {"kcat": []}
    names = [(w, p, contender(w, p)) for w in args.workers for p in args.paths]
    runs.update({name: [] for _w, _p, name in names})
    for round_no in range(args.rounds):
        result = run_kcat(args.bootstrap, text, records, broker)
        print(f"round {round_no + 1} kcat", result, flush=True)
        runs["kcat"].append(result)
        for workers, path, name in names:
            result = run_shipper(args.bootstrap, text, records, {}, workers, broker, path)
            print(f"round {round_no + 1} {name}", result, flush=True)
            runs[name].append(result)
    out: dict[str, Any] = {name: summary(r) for name, r in runs.items()}
    kcat = out["kcat"]
    for _workers, _path, name in names:
        out[f"ratio_{name}_vs_kcat"] = {
            "of_medians": out[name]["median_lines_per_s"] / kcat["median_lines_per_s"],
            "per_round": [
                s / k for s, k in zip(out[name]["lines_per_s"], kcat["lines_per_s"], strict=True)
            ],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--size-mb", type=int, default=1024, help="text file size")
    parser.add_argument("--other-size-mb", type=int, default=256, help="JSON / multiline size")
    parser.add_argument("--rounds", type=int, default=3, help="kcat/shipper alternations")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[0, 2], help="output.workers values to run"
    )
    parser.add_argument(
        "--paths", nargs="+", default=["rust"], choices=["rust", "python"], help="hot paths"
    )
    parser.add_argument("--skip-rsyslog", action="store_true")
    parser.add_argument("--skip-others", action="store_true", help="text rounds only")
    parser.add_argument("--many-files", type=int, default=1000)
    parser.add_argument("--cri-lines", type=int, default=1_500_000, help="container case size")
    parser.add_argument("--skip-cri", action="store_true")
    parser.add_argument("--only-cri", action="store_true", help="the container case only")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(sys.argv),
        "machine": {"cpus": os.cpu_count(), "load_before": os.getloadavg()},
        "producer_settings": PRODUCER,
    }
    work = Path(tempfile.mkdtemp(prefix="shipper-bench-data-", dir="/var/tmp"))
    try:
        if args.only_cri:
            cri_rounds(args, work, results)
            finish(results)
            return
        text = work / "text.log"
        records = generate(text, args.size_mb * 1024 * 1024, "text")
        size = text.stat().st_size
        results["text_file"] = {"bytes": size, "lines": records, "avg_line": size / records}
        print(f"text file: {size / 1e6:.0f} MB, {records} lines", flush=True)
        results["text"] = text_rounds(args, text, records)
        if not args.skip_rsyslog:
            results["rsyslog"] = run_rsyslog(args.bootstrap, text, records)
            print("rsyslog", results["rsyslog"], flush=True)
        text.unlink()
        if not args.skip_others:
            run_others(args, work, results)
        if not args.skip_cri:
            cri_rounds(args, work, results)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    finish(results)


def finish(results: dict[str, Any]) -> None:
    out = (
        ROOT
        / "bench"
        / "results"
        / f"shipper-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    )
    out.write_text(json.dumps(results, indent=2) + "\n")
    if "text" in results:
        ratios = {k: v for k, v in results["text"].items() if k.startswith("ratio")}
        print(json.dumps(ratios, indent=2))
    if "cri_case" in results:
        case = results["cri_case"]
        print(json.dumps({k: case[k] for k in case if k.startswith("median")}, indent=2))
    print(f"written to {out}")


def run_others(args: argparse.Namespace, work: Path, results: dict[str, Any]) -> None:
    """JSON lines and multiline (one run each per workers value), RSS with many files."""
    other = args.other_size_mb * 1024 * 1024
    js = work / "json.log"
    js_records = generate(js, other, "json")
    for workers in args.workers:
        results[f"shipper_json_w{workers}"] = run_shipper(
            args.bootstrap, js, js_records, {"parser": {"type": "json"}}, workers
        )
        print(f"shipper json w{workers}", results[f"shipper_json_w{workers}"], flush=True)
    js.unlink()
    ml = work / "multiline.log"
    ml_records = generate(ml, other, "multiline")
    for workers in args.workers:
        result = run_shipper(
            args.bootstrap,
            ml,
            ml_records,
            # The file's last event can only end by timeout: keep that wait short.
            {"multiline": {"preset": "python", "flush_timeout_seconds": 0.2}},
            workers,
        )
        result["physical_lines_per_s"] = lines_in(ml) / result["seconds"]
        results[f"shipper_multiline_w{workers}"] = result
        print(f"shipper multiline w{workers}", result, flush=True)
    ml.unlink()
    results["many_files"] = run_many_files(args.bootstrap, args.many_files, 20)
    print("many files", results["many_files"], flush=True)


if __name__ == "__main__":
    main()
