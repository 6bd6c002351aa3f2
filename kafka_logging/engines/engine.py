"""Which search engine answers, and what differs between the supported ones.

Every difference between Elasticsearch 8.x/9.x and OpenSearch 2.x/3.x that kafka-logging
depends on is decided here, from the engine's own `GET /` answer, once per process:

| what                      | Elasticsearch 8.x / 9.x        | OpenSearch 2.4+ / 3.x               |
|---------------------------|--------------------------------|-------------------------------------|
| point in time (open)      | `POST <index>/_pit` -> `id`    | `POST <index>/_search/point_in_time`|
|                           |                                | -> `pit_id`                         |
| point in time (close)     | `DELETE _pit {"id"}`           | `DELETE _search/point_in_time`      |
|                           |                                | `{"pit_id": [..]}`                  |
| tiebreaker in a PIT sort  | implicit `_shard_doc`          | explicit `_id` (no `_shard_doc`)    |
| `GET /` on minimal builds | 405 (no rest-root module):     | answers, with `distribution`        |
|                           | `GET _nodes/_local` + header   |                                     |
| API keys                  | `Authorization: ApiKey ...`    | not offered: basic auth only        |
| UI objects                | Kibana data view               | Dashboards index pattern            |
| rejected-execution type   | `es_rejected_execution_exception` | `rejected_execution_exception`   |

OpenSearch 2.0-2.3 has no point in time: searches page with `search_after` on
`@timestamp` + `event.id` without one. Everything else we use (bulk, composable index
templates, mget, count, search_after, `filter_path`) is the same HTTP API on all of them.

Pure logic: no I/O and no client import, so it is cheap to import and unit-testable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from kafka_logging.errors import FatalError

Product = Literal["elasticsearch", "opensearch"]
PitStyle = Literal["elasticsearch", "opensearch", "none"]

# (product, first supported version, first unsupported version)
SUPPORTED: tuple[tuple[Product, tuple[int, int], tuple[int, int]], ...] = (
    ("elasticsearch", (8, 0), (10, 0)),
    ("opensearch", (2, 0), (4, 0)),
)
SUPPORTED_TEXT = "Elasticsearch 8.x-9.x or OpenSearch 2.x-3.x"
PRODUCT_NAMES: dict[Product, str] = {"elasticsearch": "Elasticsearch", "opensearch": "OpenSearch"}

# Per-item error types that mean "try again later", on either engine (OpenSearch dropped the
# `es_` of Elasticsearch's EsRejectedExecutionException when it renamed the class).
RETRYABLE_ERROR_TYPES = frozenset(
    {
        "es_rejected_execution_exception",
        "rejected_execution_exception",
        "circuit_breaking_exception",
        "unavailable_shards_exception",
        "process_cluster_event_timeout_exception",
        "no_shard_available_action_exception",
        "node_not_connected_exception",
        "node_disconnected_exception",
        "connect_transport_exception",
        # Read-only blocks (e.g. disk flood stage) clear once an operator acts: wait, don't drop.
        "cluster_block_exception",
    }
)


class UnsupportedEngineError(FatalError):
    """The server is not a search engine we support; the message names it and the range."""


@dataclass(frozen=True)
class Engine:
    """A detected engine: product and version, and the behaviour that follows from them."""

    product: Product
    version: str  # as the server reports it, e.g. "8.19.21"

    @property
    def major_minor(self) -> tuple[int, int]:
        return parse_version(self.version)

    @property
    def name(self) -> str:
        """'Elasticsearch 8.19.21', 'OpenSearch 2.19.1'."""
        return f"{PRODUCT_NAMES[self.product]} {self.version}"

    @property
    def product_name(self) -> str:
        """'Elasticsearch' or 'OpenSearch'."""
        return PRODUCT_NAMES[self.product]

    @property
    def is_opensearch(self) -> bool:
        return self.product == "opensearch"

    @property
    def pit_style(self) -> PitStyle:
        """Which point-in-time API the engine has (OpenSearch's arrived in 2.4)."""
        if self.product == "elasticsearch":
            return "elasticsearch"
        return "opensearch" if self.major_minor >= (2, 4) else "none"

    @property
    def api_keys(self) -> bool:
        """Whether `Authorization: ApiKey` is an authentication the engine offers."""
        return self.product == "elasticsearch"

    @property
    def ui(self) -> str:
        """The UI people use with this engine."""
        return "OpenSearch Dashboards" if self.is_opensearch else "Kibana"

    @property
    def tiebreaker(self) -> list[dict[str, Any]]:
        """Sort clauses after `@timestamp` that make search_after paging total: Elasticsearch
        adds `_shard_doc` to a point-in-time search by itself; OpenSearch has no `_shard_doc`
        and sorts on `_id` (its fielddata is on by default there)."""
        return [] if self.product == "elasticsearch" else [{"_id": {"order": "asc"}}]

    # -- point in time ------------------------------------------------------------------------

    def pit_open_path(self, index: str) -> str:
        if self.pit_style == "opensearch":
            return f"/{index}/_search/point_in_time"
        return f"/{index}/_pit"

    def pit_id_of(self, opened: dict[str, Any]) -> str:
        key = "pit_id" if self.pit_style == "opensearch" else "id"
        return str(opened[key])

    def pit_close(self, pit_id: str) -> tuple[str, dict[str, Any]]:
        """The path and body of the request that closes `pit_id`."""
        if self.pit_style == "opensearch":
            return "/_search/point_in_time", {"pit_id": [pit_id]}
        return "/_pit", {"id": pit_id}


_VERSION = re.compile(r"^(\d+)\.(\d+)")


def parse_version(version: str) -> tuple[int, int]:
    """'8.19.21' -> (8, 19); '3.0.0-SNAPSHOT' -> (3, 0); unparsable -> (0, 0)."""
    match = _VERSION.match(version)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def identify(info: Any, where: str) -> Engine:
    """The Engine behind a `GET /` answer from `where`; UnsupportedEngineError otherwise."""
    version_info = info.get("version") if isinstance(info, dict) else None
    if not isinstance(version_info, dict) or not isinstance(version_info.get("number"), str):
        raise UnsupportedEngineError(
            f"{where} does not answer like a search engine (no version.number in GET /); "
            f"kafka-logging supports {SUPPORTED_TEXT}"
        )
    product: Product = (
        "opensearch" if version_info.get("distribution") == "opensearch" else "elasticsearch"
    )
    return _supported(Engine(product, version_info["number"]), where)


def identify_from_nodes(nodes_info: Any, elastic_header: bool, where: str) -> Engine:
    """The Engine behind a `GET _nodes/_local` answer, for builds without the root endpoint
    (the integ-test-zips of Elasticsearch lack its module and answer `GET /` with 405).

    Elasticsearch marks every answer with `X-Elastic-Product: Elasticsearch` and reports a
    `build_flavor`; OpenSearch does neither.
    """
    nodes = nodes_info.get("nodes") if isinstance(nodes_info, dict) else None
    node = next(iter(nodes.values()), None) if isinstance(nodes, dict) and nodes else None
    if not isinstance(node, dict) or not isinstance(node.get("version"), str):
        raise UnsupportedEngineError(
            f"{where} does not answer like a search engine (no version in GET / or "
            f"GET _nodes/_local); kafka-logging supports {SUPPORTED_TEXT}"
        )
    elastic = elastic_header or "build_flavor" in node
    return _supported(Engine("elasticsearch" if elastic else "opensearch", node["version"]), where)


def _supported(engine: Engine, where: str) -> Engine:
    product = engine.product
    for name, low, high in SUPPORTED:
        if name == product and low <= engine.major_minor < high:
            return engine
    raise UnsupportedEngineError(
        f"{where} runs {engine.name}, which kafka-logging does not support "
        f"(supported: {SUPPORTED_TEXT})"
    )
