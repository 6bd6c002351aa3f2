"""The Kibana part of setup: the shipped saved objects and the requests sent for them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kafka_logging.ops import kibana

SAVED = Path(kibana.__file__).parent / "kibana"


def _objects() -> list[dict[str, Any]]:
    lines = (SAVED / "saved-objects.ndjson").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_deploy_folder_is_the_shipped_one() -> None:
    """deploy/kibana is where people find the objects; it is the packaged folder."""
    deploy = Path(__file__).parents[3] / "deploy" / "kibana"
    assert deploy.resolve() == SAVED.resolve()


def test_saved_objects_are_a_search_and_a_visualization() -> None:
    """The file holds the errors search and the level-over-time chart, each with a title."""
    objects = {o["id"]: o for o in _objects()}
    assert objects["kafka-logging-errors"]["type"] == "search"
    assert objects["kafka-logging-levels-over-time"]["type"] == "visualization"
    assert all(o["attributes"]["title"] for o in objects.values())


def test_saved_objects_reference_the_data_view_setup_creates() -> None:
    """Every object points at the data view id setup creates, through a declared reference."""
    for obj in _objects():
        source = json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        ref = {r["name"]: r for r in obj["references"]}[source["indexRefName"]]
        assert (ref["type"], ref["id"]) == ("index-pattern", kibana.DATA_VIEW_ID)


def test_level_chart_aggregates_on_mapped_fields() -> None:
    """The chart splits @timestamp by log.level: the fields the index template maps."""
    vis = next(o for o in _objects() if o["type"] == "visualization")
    aggs = json.loads(vis["attributes"]["visState"])["aggs"]
    fields = {a["params"].get("field") for a in aggs}
    assert {"@timestamp", "log.level"} <= fields


class _Recorder(BaseHTTPRequestHandler):
    calls: list[tuple[str, str, Any, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.calls.append((self.command, self.path, self.headers, body))
        answer = (
            {"success": True, "successCount": 2} if "_import" in self.path else {"data_view": {}}
        )
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_kibana() -> Iterator[tuple[str, list[Any]]]:
    _Recorder.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.calls
    server.shutdown()
    server.server_close()


def test_data_view_request_names_pattern_and_time_field(fake_kibana: tuple[str, list[Any]]) -> None:
    """The data view is created with override, the pattern, @timestamp and the xsrf header."""
    url, calls = fake_kibana
    kibana.Kibana(url, "elastic", "pw").ensure_data_view("application-logs-*")
    (method, path, headers, body) = calls[0]
    sent = json.loads(body)
    assert (method, path) == ("POST", "/api/data_views/data_view")
    assert sent["override"] is True
    assert sent["data_view"]["title"] == "application-logs-*"
    assert sent["data_view"]["timeFieldName"] == "@timestamp"
    assert headers["kbn-xsrf"]
    assert headers["Authorization"].startswith("Basic ")


def test_import_sends_the_file_as_multipart_with_overwrite(
    fake_kibana: tuple[str, list[Any]],
) -> None:
    """Saved objects are imported with overwrite=true (idempotent), the file intact inside."""
    url, calls = fake_kibana
    count = kibana.Kibana(url).import_saved_objects(SAVED / "saved-objects.ndjson")
    (_, path, headers, body) = calls[0]
    assert count == 2
    assert path == "/api/saved_objects/_import?overwrite=true"
    assert headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert (SAVED / "saved-objects.ndjson").read_bytes() in body


def test_opensearch_gets_a_dashboards_index_pattern(fake_kibana: tuple[str, list[Any]]) -> None:
    """For OpenSearch, setup talks to OpenSearch Dashboards: the index pattern is a saved object
    of type index-pattern with the same fixed id, overwritten in place, with `osd-xsrf`."""
    from kafka_logging.engines.engine import Engine

    url, calls = fake_kibana
    client = kibana.for_engine(Engine("opensearch", "2.19.1"), url, "admin", "pw")
    assert client.ensure_data_view("application-logs-*") == kibana.DATA_VIEW_ID
    client.import_saved_objects(SAVED / "saved-objects.ndjson")
    (method, path, headers, body) = calls[0]
    assert (method, path) == (
        "POST",
        f"/api/saved_objects/index-pattern/{kibana.DATA_VIEW_ID}?overwrite=true",
    )
    assert json.loads(body) == {
        "attributes": {"title": "application-logs-*", "timeFieldName": "@timestamp"}
    }
    assert headers["osd-xsrf"]
    assert "kbn-xsrf" not in headers
    assert calls[1][1] == "/api/saved_objects/_import?overwrite=true"
    assert calls[1][2]["osd-xsrf"]


def test_elasticsearch_gets_kibana() -> None:
    """For Elasticsearch, setup talks to Kibana's data views API."""
    from kafka_logging.engines.engine import Engine

    client = kibana.for_engine(Engine("elasticsearch", "8.19.21"), "http://kibana:5601")
    assert type(client) is kibana.Kibana
