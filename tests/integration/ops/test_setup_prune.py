"""`kafka-logging setup` and `prune` against the real Kafka and Elasticsearch."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from confluent_kafka.admin import AdminClient

from kafka_logging.cli import main
from kafka_logging.engines.client import EngineClient

pytestmark = pytest.mark.engines  # CI runs these on every tested search engine


@pytest.fixture
def indexer_config(
    tmp_path: Path, kafka_bootstrap: str, es_url: str, index: str, engine_client: EngineClient
) -> Iterator[dict]:
    """An indexer config naming topics, template and index pattern of this test only."""
    suffix = uuid.uuid4().hex[:8]
    config = {
        "kafka": {"bootstrap_servers": kafka_bootstrap},
        "elasticsearch": {"hosts": [es_url]},
        "consumer": {"topics": [f"logs-{suffix}"]},
        "dlq": {"topic": f"logs-{suffix}.dlq"},
        "index": {"pattern": f"{index}-%Y.%m.%d", "template_name": f"tpl-{suffix}", "replicas": 0},
    }
    path = tmp_path / "indexer.yaml"
    path.write_text(yaml.safe_dump(config))
    config["path"] = str(path)
    yield config
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.delete_topics([f"logs-{suffix}", f"logs-{suffix}.dlq"]).values():
        future.result(30)
    engine_client.delete_index_template(f"tpl-{suffix}")


def test_setup_creates_topics_and_template_then_reports_them_unchanged(
    indexer_config: dict, kafka_bootstrap: str, engine_client: EngineClient
) -> None:
    """First run creates both topics and the template (naming the engine it found); the
    second run finds everything in place."""
    runner = CliRunner()
    args = ["setup", "--config", indexer_config["path"], "--partitions", "2"]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    topic = indexer_config["consumer"]["topics"][0]
    assert f"topic {topic}: created (2 partitions" in first.output
    meta = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10)
    assert len(meta.topics[topic].partitions) == 2
    assert indexer_config["dlq"]["topic"] in meta.topics
    assert f"search engine: {engine_client.engine().name} at " in first.output
    templates = engine_client.get_index_template(indexer_config["index"]["template_name"])
    patterns = templates["index_templates"][0]["index_template"]["index_patterns"]
    assert patterns == [indexer_config["index"]["pattern"].replace("%Y.%m.%d", "*")]

    second = runner.invoke(main, args)
    assert second.exit_code == 0, second.output
    assert f"topic {topic}: exists and matches" in second.output


def test_setup_restores_drifted_topic_config(indexer_config: dict, kafka_bootstrap: str) -> None:
    """A retention changed by hand is set back to the spec on the next run."""
    runner = CliRunner()
    args = ["setup", "--config", indexer_config["path"], "--retention", "7d"]
    assert runner.invoke(main, args).exit_code == 0
    again = runner.invoke(main, [*args[:-1], "3d"])
    assert again.exit_code == 0, again.output
    assert "config updated: retention.ms=259200000" in again.output


def test_setup_with_kafka_down_is_a_clear_error(tmp_path: Path, es_url: str) -> None:
    """An unreachable broker gives one message naming the problem, no traceback."""
    result = CliRunner().invoke(
        main,
        [
            "setup",
            "--bootstrap-servers",
            "127.0.0.1:1",
            "--elasticsearch",
            es_url,
            "--timeout",
            "2",
        ],
    )
    assert result.exit_code == 1
    assert "cannot reach Kafka" in result.output
    assert "Traceback" not in result.output


def test_prune_deletes_only_expired_daily_indices(
    index: str, es_url: str, tmp_path: Path, engine_client: EngineClient
) -> None:
    """Old daily indices go, today's stays, and --dry-run deletes nothing."""
    today = datetime.now(UTC)
    old = [f"{index}-{(today - timedelta(days=d)).strftime('%Y.%m.%d')}" for d in (40, 35)]
    keep = f"{index}-{today.strftime('%Y.%m.%d')}"
    config = tmp_path / "indexer.yaml"
    config.write_text(yaml.safe_dump({"index": {"pattern": f"{index}-%Y.%m.%d"}}))
    es = engine_client
    for name in [*old, keep]:
        es.create_index(name, {"settings": {"number_of_replicas": 0}})
    runner = CliRunner()
    base = ["prune", "--config", str(config), "--elasticsearch", es_url, "--older-than", "30d"]
    dry = runner.invoke(main, [*base, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert all(f"would delete {n}" in dry.output for n in old)
    assert es.exists(old[0])
    real = runner.invoke(main, base)
    assert real.exit_code == 0, real.output
    assert es.index_names(f"{index}-*") == [keep]
    assert f"deleted {keep}" not in real.output


def test_prune_rejects_a_bad_age() -> None:
    """A malformed --older-than is a usage error naming the option."""
    result = CliRunner().invoke(main, ["prune", "--older-than", "a month"])
    assert result.exit_code == 2
    assert "--older-than" in result.output
