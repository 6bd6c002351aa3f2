"""A pod's log file to Elasticsearch: the shipper (format cri) -> Kafka -> the indexer -> a
document, as README and deploy/kubernetes show it."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from container_writers import containerd, go_rfc3339nano
from elasticsearch import ApiError, Elasticsearch
from shipper_helpers import Running, create_topic, make_config

from indexer.config import IndexerConfig
from indexer.consumer import Indexer
from kafka_logging import config as shared
from kafka_logging.handler.ecs import EcsFormatter

UID = "7c1f1a52-3b8e-4f0e-9a51-2f7d1e0c9b44"


def indexer_config(bootstrap: str, es_url: str, topic: str, index: str) -> IndexerConfig:
    data: dict[str, Any] = {
        "kafka": {"bootstrap_servers": bootstrap},
        "elasticsearch": {"hosts": [es_url], "request_timeout": 10},
        "consumer": {"topics": [topic], "group_id": f"g-{uuid.uuid4().hex[:8]}"},
        "batch": {"max_docs": 100, "max_wait": 0.05},
        "index": {
            "pattern": f"{index}-%Y.%m.%d",
            "template_name": f"{index}-template",
            "replicas": 0,
            "refresh_interval": "1s",
        },
        "dlq": {"topic": f"{topic}.dlq"},
        "metrics": {"enabled": False},
        "shutdown_timeout": 10,
    }
    return shared.parse(data, IndexerConfig, environ={})


def search(es_url: str, index: str, expected: int, timeout: float = 60) -> list[dict[str, Any]]:
    """The documents of `index-*` once there are `expected` of them (or at the timeout)."""
    deadline = time.monotonic() + timeout
    waiter = threading.Event()
    hits: list[dict[str, Any]] = []
    with Elasticsearch(es_url, request_timeout=30) as es:
        while time.monotonic() < deadline:
            try:
                es.indices.refresh(index=f"{index}-*", allow_no_indices=True)
                found = es.search(index=f"{index}-*", size=100, sort=["log.offset"])
                hits = found["hits"]["hits"]
            except ApiError as exc:  # a just-created index without an active shard
                if exc.meta.status != 503:
                    raise
            if len(hits) >= expected:
                break
            waiter.wait(0.5)
    return hits


@pytest.mark.timeout(120)
def test_a_pod_record_lands_in_elasticsearch_with_its_metadata(
    tmp_path: Path,
    kafka_bootstrap: str,
    es_url: str,
    index: str,
    run_shipper: Callable[..., Running],
) -> None:
    """containerd's file of a pod with an app logging ECS JSON (an error with its traceback)
    on stdout: the Elasticsearch document has the app's fields, the pod's metadata, the
    stream, and _id = the shipper's event.id."""
    topic = f"{index}-src"
    create_topic(kafka_bootstrap, topic)
    create_topic(kafka_bootstrap, f"{topic}.dlq")
    log_dir = tmp_path / "var" / "log" / "pods" / f"shop_checkout-6b7f9c-tx2lq_{UID}" / "app"
    log_dir.mkdir(parents=True)
    record = logging.LogRecord(
        "checkout.payments", logging.ERROR, "payments.py", 88, "charge failed", None, None
    )
    record.funcName = "charge"
    try:
        raise TimeoutError("card gateway did not answer in 5s")
    except TimeoutError:
        import sys

        record.exc_info = sys.exc_info()
    record.order_id = "A-1042"
    line = EcsFormatter(service_name="checkout", service_version="1.4.2").format(record)
    stamp = go_rfc3339nano(datetime.now(UTC), 123_456_789)
    (log_dir / "0.log").write_bytes(containerd("stdout", line.encode(), stamp))
    config = make_config(
        tmp_path,
        kafka_bootstrap,
        topic,
        [
            {
                "paths": [str(tmp_path / "var" / "log" / "pods" / "**" / "*.log")],
                "format": "cri",
                "service": "{container}",
                "dataset": "kubernetes.{namespace}",
                "labels": {"cluster": "prod-1"},
                "parser": {"type": "json", "non_json": "text", "preset": "python-json-logger"},
                "container": {"service_from_app": True},
            }
        ],
    )
    shipper = run_shipper(config)
    indexer = Indexer(indexer_config(kafka_bootstrap, es_url, topic, index))
    thread = threading.Thread(target=indexer.run, daemon=True)
    thread.start()
    try:
        [hit] = search(es_url, index, 1)
    finally:
        indexer.stop()
        thread.join(30)
        shipper.stop()
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        for fut in admin.delete_topics([topic, f"{topic}.dlq"]).values():
            with contextlib.suppress(Exception):
                fut.result(30)
        with Elasticsearch(es_url) as es:
            es.options(ignore_status=404).indices.delete_index_template(name=f"{index}-template")
    doc = hit["_source"]
    (tmp_path / "document.json").write_text(json.dumps(hit, indent=2))
    print(json.dumps(hit, indent=2))
    assert hit["_id"] == doc["event"]["id"]
    assert doc["message"] == "charge failed"
    assert doc["log"]["level"] == "error"
    assert doc["error"]["type"] == "TimeoutError"
    assert doc["error"]["stack_trace"].endswith("TimeoutError: card gateway did not answer in 5s")
    assert doc["order_id"] == "A-1042"
    assert doc["stream"] == "stdout"
    assert doc["service"] == {"name": "checkout", "version": "1.4.2"}  # the app's own
    assert doc["kubernetes"] == {
        "namespace": "shop",
        "pod": {"name": "checkout-6b7f9c-tx2lq", "uid": UID},
        "container": {"name": "app", "restart_count": 0},
    }
    assert doc["event"]["dataset"] == "kubernetes.shop"
