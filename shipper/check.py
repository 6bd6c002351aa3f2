"""`kafka-logging ship --check`: validate what the shipper needs before running it."""

from __future__ import annotations

import os
import socket
from collections import Counter
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from kafka_logging.errors import FatalError
from kafka_logging.kafka_diag import ErrorCollector
from shipper.checkpoint import CheckpointStore
from shipper.config import InputConfig, ShipperConfig
from shipper.container import DECODERS
from shipper.discovery import Discovery
from shipper.kubernetes import path_meta
from shipper.records import RecordBuilder


def check_kafka(config: ShipperConfig, timeout: float = 5.0) -> list[str]:
    errors = ErrorCollector()
    try:
        admin = AdminClient({**config.kafka.admin_config(), **errors.client_config()})
        metadata = admin.list_topics(timeout=timeout)
    except FatalError as exc:
        return [f"kafka: cannot reach {config.kafka.bootstrap_servers}: {exc}"]
    except KafkaException as exc:
        admin.poll(0)
        reason = errors.explain(str(exc.args[0]))
        return [f"kafka: cannot reach {config.kafka.bootstrap_servers}: {reason}"]
    topic = metadata.topics.get(config.output.topic)
    if topic is None:
        return [f"kafka: topic {config.output.topic!r} does not exist"]
    if topic.error is not None:
        return [f"kafka: topic {config.output.topic!r}: {topic.error.str()}"]
    return []


def check_checkpoint(config: ShipperConfig) -> list[str]:
    path = Path(config.checkpoint.path)
    directory = path.parent
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    if not os.access(directory, os.W_OK | os.X_OK):
        return [f"checkpoint: cannot write in {directory} (for {path})"]
    try:
        CheckpointStore(path).load()
    except FatalError as exc:
        return [f"checkpoint: {exc}"]
    return []


def check_inputs(config: ShipperConfig) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    notes: list[str] = []
    found = Discovery([(i.paths, i.exclude) for i in config.inputs]).scan()
    per_input = [0] * len(config.inputs)
    for where in found.values():
        per_input[where.input] += 1
        if not os.access(where.path, os.R_OK):
            problems.append(f"inputs: cannot read {where.path}")
    for index, count in enumerate(per_input):
        paths = ", ".join(config.inputs[index].paths)
        notes.append(f"inputs[{index}] ({paths}): {count} file(s) match now")
        if config.inputs[index].format != "plain":
            files = [w.path for w in found.values() if w.input == index]
            notes += container_notes(config.inputs[index], index, files)
    return problems, notes


def _first_line(path: str, limit: int = 65536) -> str | None:
    try:
        with open(path, "rb") as f:
            data = f.read(limit)
    except OSError:
        return None
    line = data.split(b"\n", 1)[0] if b"\n" in data else None
    return None if line is None else line.decode("utf-8", "replace")


def container_notes(config: InputConfig, index: int, paths: list[str]) -> list[str]:
    """What a container input finds: formats by path, whether the files' first lines are in
    that format, the pods and containers seen, the service names the rule gives."""
    formats: Counter[str] = Counter()
    mismatched: list[str] = []
    pods: set[tuple[str, str]] = set()
    containers: set[str] = set()
    services: set[str] = set()
    builder = RecordBuilder(config, "check", None)
    for path in paths:
        fmt = builder.file_format(path)
        formats[fmt or "plain"] += 1
        meta = path_meta(path)
        if meta.namespace is not None and meta.pod is not None:
            pods.add((meta.namespace, meta.pod))
        if meta.container is not None or meta.container_id is not None:
            containers.add(f"{meta.pod}/{meta.container}" if meta.pod else str(meta.container_id))
        services.add(builder.service_of(meta))
        line = _first_line(path) if fmt is not None else None
        if fmt is not None and line is not None and DECODERS[fmt](line) is None:
            mismatched.append(path)
    notes = [
        f"inputs[{index}] format {config.format}: "
        + (", ".join(f"{n} {f}" for f, n in sorted(formats.items())) or "no files")
        + f"; {len(pods)} pod(s), {len(containers)} container(s)"
        + (f"; service.name: {', '.join(sorted(services)[:5])}" if services else "")
        + (" ..." if len(services) > 5 else "")
    ]
    for path in mismatched[:5]:
        notes.append(
            f"inputs[{index}]: {path}: first line is not in the {builder.file_format(path)} "
            "format (set `format` explicitly?); such lines ship flagged container_malformed"
        )
    return notes


def check_metrics(config: ShipperConfig) -> list[str]:
    metrics = config.metrics
    if not metrics.enabled or metrics.port == 0:
        return []
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((metrics.host, metrics.port))
        except OSError as exc:
            return [f"metrics: cannot listen on {metrics.host}:{metrics.port}: {exc.strerror}"]
    return []


def run_checks(config: ShipperConfig) -> tuple[list[str], list[str]]:
    """(problems, notes): the shipper can start when problems is empty."""
    problems = check_kafka(config) + check_checkpoint(config)
    input_problems, notes = check_inputs(config)
    problems += input_problems + check_metrics(config)
    return problems, notes
