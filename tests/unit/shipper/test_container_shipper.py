"""Container inputs through the shipper loop (fake Kafka, fake clock): records, checkpoints."""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from container_writers import containerd, docker, go_rfc3339nano
from shipper_fakes import Clock, FakeSink, config

from kafka_logging.handler.ecs import EcsFormatter
from kafka_logging.wire.record import line_event_id
from shipper.daemon import Shipper

MOMENT = datetime(2026, 12, 2, 10, 0, 20, tzinfo=UTC)
STAMP = go_rfc3339nano(MOMENT, 123_456_789)
UID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
CID = "ab" * 32


def pod_dir(root: Path, namespace: str = "shop", pod: str = "web-5d9c-x2x7q") -> Path:
    path = root / "pods" / f"{namespace}_{pod}_{UID}" / "app"
    path.mkdir(parents=True, exist_ok=True)
    return path


def run(tmp_path: Path, inputs: list[dict[str, Any]], rounds: int = 10) -> tuple[Shipper, FakeSink]:
    sink = FakeSink()
    sink.auto = True
    clock = Clock()
    shipper = Shipper(config(tmp_path, inputs=inputs), sink=sink, clock=clock)
    shipper.start()
    for _ in range(rounds):
        clock.advance(0.2)
        shipper.tick()
    return shipper, sink


def ecs_line(message: str, **extra: Any) -> bytes:
    formatter = EcsFormatter(service_name="checkout")
    record = logging.LogRecord("shop.orders", logging.INFO, "orders.py", 7, message, None, None)
    record.__dict__.update(extra)
    return formatter.format(record).encode()


def test_a_cri_pod_file_ships_app_json_with_kubernetes_fields(tmp_path: Path) -> None:
    """An app's ECS JSON on stdout, through containerd's envelope, lands as the app's record
    (message, log.level, its own @timestamp) with the shipper's event.id from the line's byte
    offset, the stream, and the pod's metadata from the path; service.name from the rule."""
    directory = pod_dir(tmp_path)
    line = ecs_line("order placed", order_id=42)
    data = containerd("stdout", line, STAMP)
    (directory / "0.log").write_bytes(data)
    inputs = [
        {
            "paths": [str(tmp_path / "pods" / "**" / "*.log")],
            "service": "{namespace}-{container}",
            "format": "auto",
            "parser": {"type": "json"},
        }
    ]
    shipper, sink = run(tmp_path, inputs)
    [record] = sink.delivered
    identity = next(iter(shipper.files.values())).identity
    assert record["message"] == "order placed"
    assert record["log"]["level"] == "info"
    assert record["order_id"] == 42
    assert record["event"]["id"] == line_event_id("unit-host", identity, 0)
    assert record["log"]["offset"] == 0
    assert record["stream"] == "stdout"
    assert record["service"]["name"] == "shop-app"
    assert record["event"]["dataset"] == "shop-app.log"
    assert record["kubernetes"] == {
        "namespace": "shop",
        "pod": {"name": "web-5d9c-x2x7q", "uid": UID},
        "container": {"name": "app", "restart_count": 0},
    }
    assert record["@timestamp"] != "2026-12-02T10:00:20.123456Z"  # the app's own time wins


def test_runtime_time_is_the_timestamp_of_plain_text(tmp_path: Path) -> None:
    """Without a timestamp of the app's own, @timestamp is the runtime's time."""
    (pod_dir(tmp_path) / "0.log").write_bytes(containerd("stderr", b"plain words", STAMP))
    inputs = [{"paths": [str(tmp_path / "pods" / "**" / "*.log")], "service": "s", "format": "cri"}]
    _shipper, sink = run(tmp_path, inputs)
    [record] = sink.delivered
    assert record["@timestamp"] == "2026-12-02T10:00:20.123456Z"
    assert (record["message"], record["stream"]) == ("plain words", "stderr")


TRACEBACK = [
    b"ERROR:root:failed",
    b"Traceback (most recent call last):",
    b'  File "app.py", line 3, in <module>',
    b"ValueError: bad",
]


def multiline_inputs(tmp_path: Path) -> list[dict[str, Any]]:
    return [
        {
            "paths": [str(tmp_path / "pods" / "**" / "*.log")],
            "service": "s",
            "format": "cri",
            "multiline": {"preset": "python", "flush_timeout_seconds": 1},
        }
    ]


def test_a_traceback_on_stderr_is_one_event(tmp_path: Path) -> None:
    """Multiline runs on the decoded lines: the runtime's prefixes do not break it."""
    data = b"".join(containerd("stderr", line, STAMP) for line in TRACEBACK)
    data += containerd("stderr", b"INFO:root:next", STAMP)
    (pod_dir(tmp_path) / "0.log").write_bytes(data)
    _shipper, sink = run(tmp_path, multiline_inputs(tmp_path), rounds=20)
    assert [r["message"] for r in sink.delivered] == [
        b"\n".join(TRACEBACK).decode(),
        "INFO:root:next",
    ]
    assert sink.delivered[0]["log"]["flags"] == ["multiline"]


def test_a_line_of_the_other_stream_ends_a_multiline_event(tmp_path: Path) -> None:
    """Lines of stdout and stderr are never joined: a stdout line written in the middle of a
    stderr traceback ends the event there; every line still ships once."""
    data = b"".join(containerd("stderr", line, STAMP) for line in TRACEBACK[:2])
    data += containerd("stdout", b"meanwhile", STAMP)
    data += b"".join(containerd("stderr", line, STAMP) for line in TRACEBACK[2:])
    (pod_dir(tmp_path) / "0.log").write_bytes(data)
    _shipper, sink = run(tmp_path, multiline_inputs(tmp_path), rounds=20)
    shipped = [(r["stream"], r["message"]) for r in sink.delivered]
    assert shipped[:2] == [
        ("stderr", b"\n".join(TRACEBACK[:2]).decode()),
        ("stdout", "meanwhile"),
    ]
    rest = "\n".join(m for _s, m in shipped[2:])
    assert rest == b"\n".join(TRACEBACK[2:]).decode()


def test_the_checkpoint_never_lands_inside_an_open_partial_group(tmp_path: Path) -> None:
    """stdout's P piece is open while a stderr line completes and is acknowledged: the
    checkpoint stays at the P piece's first byte; a restart then ships the stdout line whole
    and the stderr line again with the same event.id."""
    directory = pod_dir(tmp_path)
    path = directory / "0.log"
    head = b"%s stdout P first half \n" % STAMP.encode() + b"%s stderr F oops\n" % STAMP.encode()
    path.write_bytes(head)
    inputs = [{"paths": [str(tmp_path / "pods" / "**" / "*.log")], "service": "s", "format": "cri"}]
    shipper, sink = run(tmp_path, inputs)
    assert [r["message"] for r in sink.delivered] == ["oops"]
    assert shipper.entries()[0].offset == 0
    shipper.shutdown()
    with path.open("ab") as f:
        f.write(b"%s stdout F second half\n" % STAMP.encode())
    shipper2, sink2 = run(tmp_path, inputs)
    assert sorted(r["message"] for r in sink2.delivered) == ["first half second half", "oops"]
    assert {r["event"]["id"] for r in sink2.delivered} >= {sink.delivered[0]["event"]["id"]}
    assert shipper2.entries()[0].offset == os.path.getsize(path)


def test_docker_json_file_gets_the_container_id_from_its_path(tmp_path: Path) -> None:
    """/var/lib/docker/containers/<id>/<id>-json.log: container.id and runtime docker."""
    directory = tmp_path / "docker" / "containers" / CID
    directory.mkdir(parents=True)
    data = docker("stdout", b"x" * 20_000, STAMP)
    (directory / f"{CID}-json.log").write_bytes(data)
    inputs = [
        {
            "paths": [str(tmp_path / "docker" / "containers" / "*" / "*-json.log")],
            "service": "{container}",
            "format": "auto",
            "container": {"service_fallback": "docker-app"},
        }
    ]
    _shipper, sink = run(tmp_path, inputs)
    [record] = sink.delivered
    assert record["message"] == "x" * 20_000
    assert record["container"] == {"id": CID, "runtime": "docker"}
    assert record["service"]["name"] == "docker-app"


def _logged(formatter: logging.Formatter) -> tuple[logging.LogRecord, str]:
    record = logging.LogRecord("shop.pay", logging.ERROR, "pay.py", 12, "charge failed", None, None)
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError:
        record.exc_info = sys.exc_info()
    record.funcName = "charge"
    record.order_id = 7
    return record, formatter.format(record)


SHAPE = [
    ("message",),
    ("log", "level"),
    ("log", "logger"),
    ("log", "origin", "file", "name"),
    ("log", "origin", "file", "line"),
    ("log", "origin", "function"),
    ("process", "pid"),
    ("process", "thread", "name"),
    ("error", "type"),
    ("error", "message"),
    ("error", "stack_trace"),
    ("order_id",),
]


def _get(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for part in path:
        value = value[part]
    return value


def test_python_json_logger_on_stdout_lands_in_kafka_handlers_shape(tmp_path: Path) -> None:
    """A record logged through python-json-logger's JsonFormatter to stdout, shipped from a
    CRI file with parser preset python-json-logger, has the fields KafkaHandler's record has
    (message, log.level, log.logger, log.origin.*, process.*, error.*, extras), equal values."""
    from pythonjsonlogger.json import JsonFormatter

    fmt = "%(levelname)s %(name)s %(message)s %(filename)s %(lineno)d %(funcName)s %(process)d"
    record, line = _logged(JsonFormatter(f"{fmt} %(threadName)s", timestamp=True))
    expected = EcsFormatter().build(record)
    (pod_dir(tmp_path) / "0.log").write_bytes(containerd("stdout", line.encode(), STAMP))
    inputs = [
        {
            "paths": [str(tmp_path / "pods" / "**" / "*.log")],
            "service": "{container}",
            "format": "cri",
            "parser": {"type": "json", "preset": "python-json-logger"},
        }
    ]
    _shipper, sink = run(tmp_path, inputs)
    [shipped] = sink.delivered
    for path in SHAPE:
        assert _get(shipped, path) == _get(expected, path), path
    # python-json-logger rounds to the microsecond where EcsFormatter truncates
    assert shipped["@timestamp"][:23] == expected["@timestamp"][:23]
    assert "levelname" not in shipped
    assert "exc_info" not in shipped


def test_ecs_formatter_on_stdout_lands_in_kafka_handlers_shape(tmp_path: Path) -> None:
    """kafka-logging's own EcsFormatter writing to stdout: the shipped record has the same
    fields and values as KafkaHandler's, with the shipper's event.id."""
    formatter = EcsFormatter()
    record, line = _logged(formatter)
    expected = EcsFormatter().build(record)
    (pod_dir(tmp_path) / "0.log").write_bytes(containerd("stdout", line.encode(), STAMP))
    inputs = [
        {
            "paths": [str(tmp_path / "pods" / "**" / "*.log")],
            "service": "{container}",
            "format": "cri",
            "parser": {"type": "json", "non_json": "text"},
        }
    ]
    shipper, sink = run(tmp_path, inputs)
    [shipped] = sink.delivered
    for path in SHAPE:
        assert _get(shipped, path) == _get(expected, path), path
    assert shipped["@timestamp"] == expected["@timestamp"]
    identity = next(iter(shipper.files.values())).identity
    assert shipped["event"]["id"] == line_event_id("unit-host", identity, 0)


def test_check_says_what_a_container_input_finds(tmp_path: Path) -> None:
    """`ship --check` notes: formats detected by path, pods and containers seen, the
    service names the rule gives, and files whose first line is not in their format."""
    from shipper.check import check_inputs

    (pod_dir(tmp_path) / "0.log").write_bytes(containerd("stdout", b"hi", STAMP))
    (pod_dir(tmp_path, "ops", "cron-1") / "0.log").write_bytes(b'{"log":"docker?\\n"}\n')
    inputs = [
        {
            "paths": [str(tmp_path / "pods" / "**" / "*.log")],
            "service": "{namespace}",
            "format": "auto",
        }
    ]
    problems, notes = check_inputs(config(tmp_path, inputs=inputs))
    assert problems == []
    assert (
        "inputs[0] format auto: 2 cri; 2 pod(s), 2 container(s); service.name: ops, shop" in notes
    )
    assert any("cron-1" in n and "first line is not in the cri format" in n for n in notes)


def test_the_daemonset_ships_pods_as_cri_and_leaves_its_own_pod_out(tmp_path: Path) -> None:
    """deploy/kubernetes/shipper-daemonset.yaml: its input (pointed at a copy of a node's
    /var/log/pods) decodes CRI with metadata, and its exclude drops the shipper's own pod."""
    import yaml

    from kafka_logging.config import parse
    from shipper.config import ShipperConfig
    from shipper.discovery import Discovery

    manifest = Path(__file__).parents[3] / "deploy" / "kubernetes" / "shipper-daemonset.yaml"
    [config_map] = [d for d in yaml.safe_load_all(manifest.read_text()) if d["kind"] == "ConfigMap"]
    text = config_map["data"]["shipper.yaml"].replace("/var/log/pods", str(tmp_path / "pods"))
    data = yaml.safe_load(text)
    data["kafka"].pop("sasl_password_file")
    shipper_config = parse(data, ShipperConfig, environ={})
    own = pod_dir(tmp_path, "logging", "kafka-logging-shipper-8xk2p") / "0.log"
    app = pod_dir(tmp_path) / "0.log"
    for path in (own, app):
        path.write_bytes(containerd("stdout", b"x", STAMP))
    [container_input] = shipper_config.inputs
    assert container_input.format == "cri"
    found = Discovery([(container_input.paths, container_input.exclude)]).scan()
    assert [w.path for w in found.values()] == [str(app)]


def test_the_deploy_example_documents_the_container_keys() -> None:
    """deploy/shipper.yaml has a container input and documents every container key."""
    from shipper.config import ContainerConfig, ParserConfig, load_config

    example = Path(__file__).parents[3] / "deploy" / "shipper.yaml"
    loaded = load_config(example)
    assert [i.format for i in loaded.inputs if i.name == "containers"] == ["cri"]
    text = example.read_text()
    for field in [*ContainerConfig.model_fields, *ParserConfig.model_fields, "format"]:
        assert f"{field}:" in text, field


def test_service_from_app_keeps_the_apps_own_service_name(tmp_path: Path) -> None:
    """container.service_from_app: the app's service.name wins (and is the Kafka key); a
    line without one is named by the rule."""
    data = containerd("stdout", ecs_line("with service"), STAMP)
    data += containerd("stdout", b'{"message": "without"}', STAMP)
    (pod_dir(tmp_path) / "0.log").write_bytes(data)
    inputs = [
        {
            "paths": [str(tmp_path / "pods" / "**" / "*.log")],
            "service": "{container}",
            "format": "cri",
            "parser": {"type": "json"},
            "container": {"service_from_app": True},
        }
    ]
    _shipper, sink = run(tmp_path, inputs)
    assert [r["service"]["name"] for r in sink.delivered] == ["checkout", "app"]
