"""Fixtures for both tiers.

Unit tests need no service. Integration tests (everything under tests/integration, marked
`integration` automatically) get a real Kafka bootstrap address and Elasticsearch URL:
from KAFKA_BOOTSTRAP_SERVERS / ELASTICSEARCH_URL when set, else from the local stack
(`kafka-logging stack up`). When a service is absent they fail in CI (CI=true) and skip
elsewhere, with a message saying how to start it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kafka_logging.stack import manager, services
from kafka_logging.stack.settings import (
    StackSettings,
    default_cache_dir,
    default_data_dir,
    private_stack,
)

INTEGRATION_DIR = Path(__file__).parent / "integration"


DEFAULT_ENGINE = "default"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--search-engine",
        default=os.environ.get("KL_SEARCH_ENGINE", DEFAULT_ENGINE),
        help="Run the integration tests against this engine (PRODUCT:VERSION, e.g. "
        "opensearch:2.19.1): a private node on free ports, started once per session. "
        "Default: the shared stack's (ELASTICSEARCH_URL) [env KL_SEARCH_ENGINE].",
    )


def pytest_report_header(config: pytest.Config) -> str:
    return f"search engine: {config.getoption('--search-engine')}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _absent(what: str, detail: str) -> None:
    message = (
        f"{what} is not reachable ({detail}). Start the local stack with `kafka-logging stack up`"
        ", or point KAFKA_BOOTSTRAP_SERVERS / ELASTICSEARCH_URL at running services."
    )
    if _in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _stack_ports() -> tuple[int, int]:
    state = manager.load_state(StackSettings(default_cache_dir(), default_data_dir()))
    kafka = state["kafka"].port if "kafka" in state else 9092
    es = state["elasticsearch"].port if "elasticsearch" in state else 9200
    return kafka, es


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """A Kafka bootstrap address whose metadata request succeeds."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or f"127.0.0.1:{_stack_ports()[0]}"
    problem = services.kafka_health(bootstrap, timeout=10)
    if problem is not None:
        _absent(f"Kafka at {bootstrap}", problem)
    return bootstrap


@pytest.fixture(scope="session")
def search_engine(request: pytest.FixtureRequest) -> str:
    """The --search-engine of this session: 'default' (the shared stack) or PRODUCT:VERSION."""
    return str(request.config.getoption("--search-engine"))


@pytest.fixture(scope="session")
def es_url(search_engine: str, request: pytest.FixtureRequest) -> str:
    """A search engine URL whose cluster health is at least yellow: the shared stack's
    Elasticsearch, or (with --search-engine) a private node of that engine for this session."""
    if search_engine != DEFAULT_ENGINE:
        return str(request.getfixturevalue("private_engine_url"))
    url = os.environ.get("ELASTICSEARCH_URL") or f"http://127.0.0.1:{_stack_ports()[1]}"
    problem = services.elasticsearch_health(url, timeout=10)
    if problem is not None:
        _absent(f"Elasticsearch at {url}", problem)
    return url


@pytest.fixture(scope="session")
def private_engine_url(search_engine: str) -> Iterator[str]:
    """A private node of --search-engine on free ports, for the whole session."""
    from kafka_logging.stack.errors import StackError

    base = Path(tempfile.mkdtemp(prefix="kl-engine-", dir="/var/tmp"))
    os.chmod(base, 0o755)
    settings = private_stack(base, search_engine=search_engine)
    try:
        manager.up(settings, print, only=["elasticsearch"])
    except StackError as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"cannot start {search_engine}: {exc}", pytrace=False)
    try:
        yield settings.es_url
    finally:
        manager.down(settings, print)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def engine_client(es_url: str) -> Iterator[Any]:
    """An EngineClient on `es_url` (works with every supported engine)."""
    from kafka_logging.engines.client import EngineClient

    with EngineClient([es_url], request_timeout=60, max_retries=5) as client:
        yield client


def _unique(request: pytest.FixtureRequest, prefix: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:60]
    return f"{prefix}-{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def topic(request: pytest.FixtureRequest, kafka_bootstrap: str) -> Iterator[str]:
    """A new single-partition topic for this test only, deleted afterwards."""
    from confluent_kafka.admin import AdminClient, NewTopic

    name = _unique(request, "test")
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])[name].result(30)
    yield name
    admin.delete_topics([name])[name].result(30)


@pytest.fixture
def index(request: pytest.FixtureRequest, engine_client: Any) -> Iterator[str]:
    """A unique index name for this test; every index matching it is deleted afterwards."""
    name = _unique(request, "test")
    yield name
    engine_client.delete_matching(f"{name}*")


class DisposableService:
    """A private Kafka broker or Elasticsearch node for tests that stop, kill or freeze it.

    Never touch the shared stack in such tests: other tests run against it.
    """

    def __init__(self, name: str, data_dir: Path) -> None:
        self.name = name
        self.settings = private_stack(data_dir)
        self.start()

    @property
    def address(self) -> str:
        """Kafka: a bootstrap address; Elasticsearch: a URL."""
        if self.name == "kafka":
            return self.settings.kafka_bootstrap
        return self.settings.es_url

    def _say(self, message: str) -> None:
        print(f"[{self.name}@{self.address}] {message}")

    def start(self) -> None:
        """Start (again, on the same data) and wait until healthy."""
        manager.up(self.settings, self._say, only=[self.name])

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL after the grace period)."""
        manager.down(self.settings, self._say, only=[self.name])

    def _signal(self, sig: signal.Signals) -> None:
        entry = manager.load_state(self.settings)[self.name]
        for pid in entry.pids():
            os.kill(pid, sig)

    def kill(self) -> None:
        """SIGKILL every process of the service, as a crash would."""
        self._signal(signal.SIGKILL)
        manager.down(self.settings, self._say, only=[self.name])

    def freeze(self) -> None:
        """SIGSTOP: the process stays, answers nothing."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)


@pytest.fixture
def make_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Factory: `make_service("kafka")` or `make_service("elasticsearch")` -> DisposableService.

    Each is stopped (and its data removed) after the test. As root, Elasticsearch needs a
    data directory its own user can reach, so these live under /var/tmp, not /root.
    """
    made: list[tuple[DisposableService, Path]] = []

    def make(name: str) -> DisposableService:
        base = Path(tempfile.mkdtemp(prefix=f"kl-{name}-", dir="/var/tmp"))
        os.chmod(base, 0o755)
        service = DisposableService(name, base)
        made.append((service, base))
        return service

    yield make
    for service, base in made:
        with contextlib.suppress(Exception):
            service.thaw()
        service.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def schema_registry_url() -> Iterator[str]:
    """The Confluent-compatible URL of an Apicurio Registry started once for the session."""
    from kafka_logging.stack.errors import StackError
    from kafka_logging.stack.procs import free_port_block
    from kafka_logging.stack.registry import ensure_registry, start_registry, stop_registry

    try:
        home = ensure_registry(default_cache_dir(), progress=print)
        with tempfile.TemporaryDirectory(prefix="kl-registry-") as work:
            running = start_registry(home, free_port_block(1), Path(work))
            try:
                yield running.url
            finally:
                stop_registry(running)
    except StackError as exc:
        pytest.fail(f"the schema registry could not be started: {exc}", pytrace=False)
