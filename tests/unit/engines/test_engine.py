"""Engine detection and the per-engine differences (pure logic, no server)."""

from __future__ import annotations

import pytest

from kafka_logging.engines.client import EngineApiError, EngineClient, _api_key_header
from kafka_logging.engines.engine import (
    Engine,
    UnsupportedEngineError,
    identify,
    identify_from_nodes,
)
from kafka_logging.errors import ConfigError

ES8 = Engine("elasticsearch", "8.19.21")
OS2 = Engine("opensearch", "2.19.1")


@pytest.mark.parametrize(
    ("info", "name"),
    [
        ({"version": {"number": "8.19.21", "build_flavor": "default"}}, "Elasticsearch 8.19.21"),
        ({"version": {"number": "9.2.0"}}, "Elasticsearch 9.2.0"),
        ({"version": {"number": "2.19.1", "distribution": "opensearch"}}, "OpenSearch 2.19.1"),
        ({"version": {"number": "3.3.2", "distribution": "opensearch"}}, "OpenSearch 3.3.2"),
    ],
)
def test_root_answer_names_the_engine(info: dict, name: str) -> None:
    """`GET /` gives product (OpenSearch by `distribution`) and version."""
    assert identify(info, "http://x").name == name


@pytest.mark.parametrize(
    ("info", "named"),
    [
        ({"version": {"number": "7.17.9"}}, "Elasticsearch 7.17.9"),
        ({"version": {"number": "1.3.20", "distribution": "opensearch"}}, "OpenSearch 1.3.20"),
        ({"version": {"number": "4.0.0", "distribution": "opensearch"}}, "OpenSearch 4.0.0"),
    ],
)
def test_unsupported_version_is_one_line_naming_it_and_the_range(info: dict, named: str) -> None:
    """An engine outside the range: one line naming what runs and what is supported."""
    with pytest.raises(UnsupportedEngineError) as err:
        identify(info, "http://x:9200")
    message = str(err.value)
    assert "\n" not in message
    assert named in message
    assert "Elasticsearch 8.x-9.x or OpenSearch 2.x-3.x" in message


def test_something_else_is_not_a_search_engine() -> None:
    """An answer without a version (another server on the port) is refused by name."""
    with pytest.raises(UnsupportedEngineError, match="does not answer like a search engine"):
        identify({"hello": "world"}, "http://x")


def test_minimal_builds_are_identified_from_the_local_node() -> None:
    """Without the root endpoint: the product header or build_flavor means Elasticsearch."""
    es = {"nodes": {"n": {"version": "8.19.21", "build_flavor": "default"}}}
    assert identify_from_nodes(es, True, "u") == ES8
    assert identify_from_nodes({"nodes": {"n": {"version": "2.19.1"}}}, False, "u") == OS2


def test_point_in_time_apis_differ() -> None:
    """Elasticsearch: _pit and `id`; OpenSearch: _search/point_in_time and `pit_id`."""
    assert ES8.pit_open_path("logs-*") == "/logs-*/_pit"
    assert OS2.pit_open_path("logs-*") == "/logs-*/_search/point_in_time"
    assert ES8.pit_id_of({"id": "a"}) == OS2.pit_id_of({"pit_id": "a"}) == "a"
    assert ES8.pit_close("a") == ("/_pit", {"id": "a"})
    assert OS2.pit_close("a") == ("/_search/point_in_time", {"pit_id": ["a"]})
    assert Engine("opensearch", "2.3.0").pit_style == "none"


def test_only_opensearch_needs_an_explicit_tiebreaker() -> None:
    """OpenSearch has no `_shard_doc`: `_id` breaks ties; Elasticsearch's PIT does it itself."""
    assert ES8.tiebreaker == []
    assert OS2.tiebreaker == [{"_id": {"order": "asc"}}]


def test_api_keys_only_for_elasticsearch() -> None:
    """An `id:key` pair is base64-encoded into `ApiKey`; OpenSearch offers no API keys."""
    assert _api_key_header("id:secret") == "ApiKey aWQ6c2VjcmV0"
    assert _api_key_header("aWQ6c2VjcmV0") == "ApiKey aWQ6c2VjcmV0"
    assert ES8.api_keys
    assert not OS2.api_keys


def test_unknown_client_option_is_a_config_error() -> None:
    """The `elasticsearch.client` passthrough takes only options the transport has."""
    with pytest.raises(ConfigError, match="unknown option"):
        EngineClient(["http://127.0.0.1:9200"], options={"sniff_on_start": True})
    client = EngineClient(["http://127.0.0.1:9200"], options={"connections_per_node": 4})
    client.close()


def test_api_error_parses_the_error_body() -> None:
    """Status, type and reason come from the engine's error body; 429/5xx are retryable."""
    exc = EngineApiError("PUT", "/x", 400, {"error": {"type": "bad_thing", "reason": "why"}})
    assert (exc.status, exc.error_type, exc.reason) == (400, "bad_thing", "why")
    assert not exc.retryable
    assert EngineApiError("POST", "/_bulk", 429, "Too Many Requests").retryable
