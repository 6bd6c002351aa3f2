"""Live commands against the real services: `search --follow` (Elasticsearch) and `tail` (Kafka).

Each runs the installed `kafka-logging` as a subprocess with piped output, and is stopped
with SIGTERM, which it treats like Ctrl-C (exit status 130).
"""

from __future__ import annotations

import json
import socket
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from search_helpers import (
    KAFKA_LOGGING,
    STACK,
    create_index,
    daily,
    index_docs,
    make_record,
)

from kafka_logging.wire.record import Encoding, encode_json, headers_for

pytestmark = pytest.mark.timeout(120)

INTERRUPTED = 130


def produce(
    bootstrap: str, topic: str, values: list[tuple[bytes, list[tuple[str, bytes]]]]
) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap})
    errors: list[Any] = []
    for value, headers in values:
        producer.produce(topic, value, headers=headers, on_delivery=lambda e, m: errors.append(e))
    assert producer.flush(30) == 0
    assert errors == [None] * len(values)


def as_message(record: dict[str, Any]) -> tuple[bytes, list[tuple[str, bytes]]]:
    return encode_json(record), headers_for(Encoding.JSON, record["event"]["id"])


def test_follow_prints_records_indexed_after_it_started(
    es_url: str, index: str, spawn: Any, engine_client: Any
) -> None:
    """--follow prints the backlog oldest first, then each new match once -- also two new
    records with the same timestamp -- and skips new records its filters exclude."""
    now = datetime.now(UTC)
    name = daily(index, now)
    es = engine_client
    create_index(es, name)
    for seconds in (20, 10):
        index_docs(es, [(name, make_record(now - timedelta(seconds=seconds), f"before {seconds}"))])
    follow = spawn(
        "search", "--follow", "--interval", "0.3", "--format", "ndjson",
        "--elasticsearch", es_url, "--index", f"{index}-*", "--service", "checkout",
    )  # fmt: skip
    backlog = [json.loads(follow.out.next())["message"] for _ in range(2)]
    assert backlog == ["before 20", "before 10"]
    stamp = datetime.now(UTC)
    new = [make_record(stamp, f"new {i}") for i in range(2)]
    other = make_record(stamp, "other service", service="billing")
    for record in [*new, other]:
        index_docs(es, [(name, record)])
    got = sorted(json.loads(follow.out.next())["message"] for _ in range(2))
    assert got == ["new 0", "new 1"]
    index_docs(es, [(name, make_record(datetime.now(UTC), "last"))])
    assert json.loads(follow.out.next())["message"] == "last"  # not a repeat, not "other"
    assert follow.stop() == INTERRUPTED


def test_tail_streams_records_produced_after_it_started(
    kafka_bootstrap: str, topic: str, spawn: Any
) -> None:
    """tail prints every record produced after its ready line, in every kind (error with
    stack trace, extra fields), warns on an undecodable message, and stops on SIGTERM."""
    tail = spawn(
        "tail", "--topic", topic, "--bootstrap-servers", kafka_bootstrap, "--format", "ndjson"
    )
    ready = tail.err.next()
    assert ready.startswith(f"kafka-logging: tailing {topic} at {kafka_bootstrap} (1 partition)")
    now = datetime.now(UTC)
    records = [
        make_record(now, "hello"),
        make_record(
            now,
            "payment failed",
            level="error",
            error={"type": "ValueError", "message": "card declined", "stack_trace": STACK},
            order_id=42,
            labels={"env": "prod"},
        ),
    ]
    produce(
        kafka_bootstrap,
        topic,
        [
            as_message(records[0]),
            (b"{not json", headers_for(Encoding.JSON, "x")),
            as_message(records[1]),
        ],
    )
    assert json.loads(tail.out.next()) == records[0]
    assert json.loads(tail.out.next()) == records[1]
    warning = tail.err.next()
    assert warning.startswith(f"kafka-logging: skipped undecodable message at {topic}[0]@1: ")
    assert tail.stop() == INTERRUPTED


def test_tail_filters_and_text_output(kafka_bootstrap: str, topic: str, spawn: Any) -> None:
    """--service, --level and a field:value / substring QUERY apply to the live stream;
    text output is plain when piped."""
    tail = spawn(
        "tail", "--topic", topic, "--bootstrap-servers", kafka_bootstrap,
        "--service", "billing", "--level", "warning", "order_id:4* -ignore",
    )  # fmt: skip
    tail.err.until("tailing")
    now = datetime.now(UTC)
    produce(
        kafka_bootstrap,
        topic,
        [
            as_message(make_record(now, "info, wrong level", service="billing", order_id=41)),
            as_message(make_record(now, "wrong service", level="error", order_id=42)),
            as_message(
                make_record(now, "please ignore", level="error", service="billing", order_id=43)
            ),
            as_message(make_record(now, "no order", level="error", service="billing")),
            as_message(make_record(now, "match", level="WARNING", service="billing", order_id=44)),
            as_message(make_record(now, "end", level="critical", service="billing", order_id=45)),
        ],
    )
    first, second = tail.out.next(), tail.out.next()
    assert "WARNING  billing web-1 billing.app: match order_id=44" in first
    assert "\x1b[" not in first
    assert "CRITICAL billing web-1 billing.app: end order_id=45" in second
    assert tail.stop() == INTERRUPTED


def test_tail_from_beginning_with_limit_exits_by_itself(kafka_bootstrap: str, topic: str) -> None:
    """--from-beginning reads what is already there; --limit ends it with status 0; and it
    leaves no consumer group behind on the broker."""
    from confluent_kafka.admin import AdminClient

    now = datetime.now(UTC)
    records = [make_record(now, f"old {i}") for i in range(3)]
    produce(kafka_bootstrap, topic, [as_message(r) for r in records])
    result = subprocess.run(
        [
            KAFKA_LOGGING, "tail", "--topic", topic, "--bootstrap-servers", kafka_bootstrap,
            "--from-beginning", "--limit", "3", "--format", "json",
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == records
    groups = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_consumer_groups().result()
    assert not [g for g in groups.valid if g.group_id.startswith("kafka-logging-tail-")]


def test_tail_kafka_unreachable_is_a_bounded_clear_error() -> None:
    """Nothing listening: after --timeout, exit 1 with one line naming the address."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{sock.getsockname()[1]}"
    result = subprocess.run(
        [KAFKA_LOGGING, "tail", "--bootstrap-servers", address, "--timeout", "2"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"Error: cannot reach Kafka at {address} within 2s")


def test_tail_unknown_topic(kafka_bootstrap: str) -> None:
    """A topic that does not exist is named (and not created)."""
    name = f"test-search-missing-{uuid.uuid4().hex[:8]}"
    result = subprocess.run(
        [KAFKA_LOGGING, "tail", "--bootstrap-servers", kafka_bootstrap, "--topic", name],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: topic {name!r} does not exist at {kafka_bootstrap}"


def test_tail_reads_every_partition_and_ctrl_c_is_quiet(kafka_bootstrap: str, spawn: Any) -> None:
    """On a 3-partition topic, records produced to each partition are all printed; SIGINT
    (Ctrl-C) ends it with status 130 and no traceback."""
    import signal

    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    name = f"test-search-parts-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])[name].result(30)
    try:
        tail = spawn(
            "tail", "--topic", name, "--bootstrap-servers", kafka_bootstrap, "--format", "ndjson"
        )
        assert "(3 partitions) from the end" in tail.err.next()
        producer = Producer({"bootstrap.servers": kafka_bootstrap})
        now = datetime.now(UTC)
        for partition in range(3):
            value, headers = as_message(make_record(now, f"p{partition}"))
            producer.produce(name, value, headers=headers, partition=partition)
        assert producer.flush(30) == 0
        got = sorted(json.loads(tail.out.next())["message"] for _ in range(3))
        assert got == ["p0", "p1", "p2"]
        tail.process.send_signal(signal.SIGINT)
        assert tail.process.wait(timeout=30) == INTERRUPTED
        assert tail.process.stderr is not None
        assert "Traceback" not in tail.process.stderr.read()
    finally:
        admin.delete_topics([name])[name].result(30)


def test_tail_config_file_kafka_section(kafka_bootstrap: str, topic: str, tmp_path: Any) -> None:
    """--config reads bootstrap_servers from the `kafka:` section (other sections ignored),
    and it wins over KAFKA_BOOTSTRAP_SERVERS."""
    config = tmp_path / "tail.yaml"
    config.write_text(
        f"kafka:\n  bootstrap_servers: {kafka_bootstrap}\nelasticsearch:\n  hosts: [http://x:1]\n"
        "inputs: []\n"
    )
    produce(kafka_bootstrap, topic, [as_message(make_record(datetime.now(UTC), "via config"))])
    result = subprocess.run(
        [KAFKA_LOGGING, "tail", "--config", str(config), "--topic", topic,
         "--from-beginning", "--limit", "1", "--format", "ndjson"],
        capture_output=True, text=True, timeout=60, check=False,
        env={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["message"] == "via config"


def test_tail_kafka_that_never_answers_is_bounded() -> None:
    """A port that accepts connections but never speaks Kafka: exit 1 after --timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        result = subprocess.run(
            [KAFKA_LOGGING, "tail", "--bootstrap-servers", address, "--timeout", "2"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: cannot reach Kafka at {address} within 2s")


def test_tail_since_starts_at_kafka_timestamps(kafka_bootstrap: str, topic: str) -> None:
    """--since 30m skips records Kafka stamped an hour ago and prints the recent ones."""
    from confluent_kafka import Producer

    now = datetime.now(UTC)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for message, age in (("old 1", 3600), ("old 2", 3600), ("new 1", 60), ("new 2", 1)):
        value, headers = as_message(make_record(now, message))
        stamp = int((now.timestamp() - age) * 1000)
        producer.produce(topic, value, headers=headers, timestamp=stamp)
    assert producer.flush(30) == 0
    result = subprocess.run(
        [KAFKA_LOGGING, "tail", "--topic", topic, "--bootstrap-servers", kafka_bootstrap,
         "--since", "30m", "--limit", "2", "--format", "ndjson"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["message"] for line in result.stdout.splitlines()] == [
        "new 1",
        "new 2",
    ]


@pytest.mark.timeout(300)
def test_tail_rides_out_a_broker_restart(make_service: Any, spawn: Any) -> None:
    """A private broker stops under a running tail: tail warns on stderr (no crash, no
    exit), and prints what is produced once the broker is back."""
    from confluent_kafka.admin import AdminClient, NewTopic

    kafka = make_service("kafka")
    name = "tail-restart"
    admin = AdminClient({"bootstrap.servers": kafka.address})
    admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])[name].result(30)
    tail = spawn(
        "tail", "--topic", name, "--bootstrap-servers", kafka.address, "--format", "ndjson"
    )
    tail.err.until("tailing")
    produce(kafka.address, name, [as_message(make_record(datetime.now(UTC), "before"))])
    assert json.loads(tail.out.next())["message"] == "before"
    kafka.stop()
    assert "(retrying)" in tail.err.until(f"Kafka at {kafka.address}", timeout=60)
    assert tail.process.poll() is None
    kafka.start()
    produce(kafka.address, name, [as_message(make_record(datetime.now(UTC), "after"))])
    assert json.loads(tail.out.next(timeout=90))["message"] == "after"
    assert tail.stop() == INTERRUPTED


def test_tail_json_array_is_complete_after_sigterm(
    kafka_bootstrap: str, topic: str, spawn: Any
) -> None:
    """--format json on a live stream: stopping it still leaves one valid JSON array."""
    tail = spawn(
        "tail", "--topic", topic, "--bootstrap-servers", kafka_bootstrap, "--format", "json"
    )
    tail.err.until("tailing")
    records = [make_record(datetime.now(UTC), f"j{i}") for i in range(2)]
    produce(kafka_bootstrap, topic, [as_message(r) for r in records])
    lines = [tail.out.next()]
    while '"message": "j1"' not in lines[-1]:  # the second record is on its way out
        lines.append(tail.out.next())
    assert tail.stop() == INTERRUPTED
    assert json.loads("\n".join(lines + tail.out.rest())) == records


@pytest.mark.timeout(400)
def test_follow_rides_out_an_elasticsearch_restart(make_service: Any, spawn: Any) -> None:
    """A private node stops under `search --follow`: it says so on stderr and keeps polling;
    once the node is back, new records appear (none twice)."""
    from kafka_logging.engines.client import EngineClient

    node = make_service("elasticsearch")
    now = datetime.now(UTC)
    name = daily("follow-restart", now)
    with EngineClient([node.address], request_timeout=60) as es:
        create_index(es, name)
        index_docs(es, [(name, make_record(now, "before"))])
    follow = spawn(
        "search", "--follow", "--interval", "0.5", "--timeout", "5", "--format", "ndjson",
        "--elasticsearch", node.address, "--index", "follow-restart-*",
    )  # fmt: skip
    assert json.loads(follow.out.next())["message"] == "before"
    node.stop()
    assert "retrying every 0.5s" in follow.err.until("cannot reach the search engine", timeout=60)
    node.start()
    with EngineClient([node.address], request_timeout=60) as es:
        es.request(
            "GET", f"/_cluster/health/{name}", params={"wait_for_status": "green", "timeout": "60s"}
        )
        index_docs(es, [(name, make_record(datetime.now(UTC), "after"))])
    assert json.loads(follow.out.next(timeout=90))["message"] == "after"
    assert (
        follow.err.until("answers again")
        == f"kafka-logging: {node.address} answers again; following"
    )
    assert follow.stop() == INTERRUPTED


def test_tail_reads_partitions_added_while_it_runs(kafka_bootstrap: str, topic: str) -> None:
    """Partitions added to the topic (scaling out) are picked up and read from their start."""
    import threading

    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewPartitions

    from kafka_logging.search.kafka_tail import KafkaTail

    warnings: list[str] = []
    tail = KafkaTail(
        {"bootstrap.servers": kafka_bootstrap}, topic, warn=warnings.append, metadata_interval=0.5
    )
    try:
        assert tail.start() == 1
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        admin.create_partitions([NewPartitions(topic, 2)])[topic].result(30)
        producer = Producer({"bootstrap.servers": kafka_bootstrap})
        value, headers = as_message(make_record(datetime.now(UTC), "on the new partition"))
        for _ in range(60):  # the producer learns of partition 1 with its next metadata refresh
            try:
                producer.produce(topic, value, headers=headers, partition=1)
                break
            except Exception:
                producer.poll(0.5)
        assert producer.flush(30) == 0
        stop = threading.Event()
        timer = threading.Timer(60, stop.set)  # a bound, should the record never come
        timer.start()
        try:
            batch = next(tail.batches(stop))
        finally:
            timer.cancel()
        assert [r["message"] for r in batch] == ["on the new partition"]
        assert f"{topic} has new partition(s) [1]; reading them too" in warnings
    finally:
        tail.close()
