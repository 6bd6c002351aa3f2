"""`kafka-logging ship --check`: validate what the shipper needs before running it."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from kafka_logging.errors import FatalError
from kafka_logging.kafka_diag import ErrorCollector
from shipper.checkpoint import CheckpointStore
from shipper.config import ShipperConfig
from shipper.discovery import Discovery


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
    return problems, notes


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
