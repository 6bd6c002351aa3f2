"""Where the local stack keeps its downloads and data, and which versions it runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kafka_logging.stack.engines import Distribution

KAFKA_VERSION = "4.1.2"
ELASTICSEARCH_VERSION = "9.2.0"
KAFKA_MIN_JAVA = 17
ELASTICSEARCH_MIN_JAVA = 21

CACHE_ENV = "KAFKA_LOGGING_CACHE_DIR"
DATA_ENV = "KAFKA_LOGGING_STACK_DIR"
ES_USER = "kafka-logging-es"


def default_cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kafka-logging"


def default_data_dir() -> Path:
    """The stack's state. As root it lives where Elasticsearch's own user can reach it."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/lib/kafka-logging/stack")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "kafka-logging" / "stack"


@dataclass(frozen=True)
class StackSettings:
    cache_dir: Path
    data_dir: Path
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    es_port: int = 9200
    es_transport_port: int = 9300
    kafka_heap: str = "512m"
    es_heap: str = "1g"
    kafka_start_timeout: float = 90.0
    es_start_timeout: float = 180.0
    kafka_nodes: int = 1
    secure: bool = False  # SASL_SSL (SCRAM-SHA-512) listeners; Elasticsearch on HTTPS + auth
    # The search engine in the "elasticsearch" slot: PRODUCT:VERSION (see stack/engines.py).
    search_engine: str = "elasticsearch:9.2.0"

    @property
    def distribution(self) -> Distribution:
        from kafka_logging.stack.engines import parse_engine  # noqa: PLC0415

        return parse_engine(self.search_engine)

    def kafka_node_names(self) -> list[str]:
        """'kafka' is node 1; a cluster adds 'kafka-2', 'kafka-3', ..."""
        return ["kafka"] + [f"kafka-{n}" for n in range(2, self.kafka_nodes + 1)]

    def port_of(self, name: str) -> int:
        if name == "elasticsearch":
            return self.es_port
        return self.kafka_node_port(node_number(name))

    def service_names(self) -> list[str]:
        return [*self.kafka_node_names(), "elasticsearch"]

    def kafka_node_port(self, node: int) -> int:
        return self.kafka_port + 2 * (node - 1)

    def kafka_node_controller_port(self, node: int) -> int:
        return self.kafka_controller_port + 2 * (node - 1)

    def kafka_secure_port(self, node: int) -> int:
        """The SASL_SSL listener of a node in secure mode: its plaintext port + 100."""
        return self.kafka_node_port(node) + 100

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    def kafka_node_dir(self, node: int) -> Path:
        return self.kafka_dir if node == 1 else self.data_dir / f"kafka-{node}"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "stack.json"

    @property
    def kafka_dir(self) -> Path:
        return self.data_dir / "kafka"

    @property
    def es_dir(self) -> Path:
        return self.data_dir / "elasticsearch"

    @property
    def kafka_bootstrap(self) -> str:
        nodes = range(1, self.kafka_nodes + 1)
        return ",".join(f"127.0.0.1:{self.kafka_node_port(n)}" for n in nodes)

    @property
    def es_url(self) -> str:
        scheme = "https" if self.secure else "http"
        return f"{scheme}://127.0.0.1:{self.es_port}"


def node_number(name: str) -> int:
    """'kafka' -> 1, 'kafka-3' -> 3."""
    return 1 if name == "kafka" else int(name.rsplit("-", 1)[1])


def is_kafka(name: str) -> bool:
    return name == "kafka" or name.startswith("kafka-")


def private_stack(data_dir: Path, kafka_nodes: int = 1, **overrides: object) -> StackSettings:
    """Settings for a private stack on a block of free loopback ports (tests, chaos runs).

    Kafka node n listens on first + 2(n-1) and its controller on the port after it;
    Elasticsearch takes the two ports after the last controller.
    """
    from kafka_logging.stack.procs import free_port_block  # noqa: PLC0415

    first = free_port_block(2 * kafka_nodes + 2)
    values: dict[str, object] = {
        "cache_dir": default_cache_dir(),
        "data_dir": data_dir,
        "kafka_port": first,
        "kafka_controller_port": first + 1,
        "es_port": first + 2 * kafka_nodes,
        "es_transport_port": first + 2 * kafka_nodes + 1,
        "kafka_heap": "384m",
        "es_heap": "512m",
        "kafka_nodes": kafka_nodes,
    }
    values.update(overrides)
    return StackSettings(**values)  # type: ignore[arg-type]
