"""`kafka-logging index`: a user mistake is one clear message and a non-zero exit, no traceback."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from kafka_logging.cli import main


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["index", *args])
    return result.exit_code, result.output


def test_missing_config_file_is_named() -> None:
    """A path that does not exist: the message names it."""
    code, output = run("--config", "/nonexistent/indexer.yaml")
    assert code != 0
    assert "/nonexistent/indexer.yaml" in output
    assert "Traceback" not in output


def test_unknown_and_invalid_keys_are_all_named(tmp_path: Path) -> None:
    """Every bad key is listed in one message."""
    config = tmp_path / "indexer.yaml"
    config.write_text("batch:\n  max_docs: 0\n  colour: blue\nconsumer:\n  topics: []\n")
    code, output = run("--config", str(config))
    assert code != 0
    assert "batch.max_docs" in output
    assert "batch.colour: unknown key" in output
    assert "consumer.topics" in output
    assert "Traceback" not in output


def test_librdkafka_refusing_a_setting_is_a_clear_error(tmp_path: Path) -> None:
    """A passthrough key librdkafka does not know is reported, not raised as a traceback."""
    config = tmp_path / "indexer.yaml"
    config.write_text("kafka:\n  librdkafka:\n    no.such.setting: 1\nmetrics:\n  enabled: false\n")
    code, output = run("--config", str(config))
    assert code != 0
    assert "no.such.setting" in output
    assert "Traceback" not in output


def test_config_option_is_required() -> None:
    """Without --config, click says so."""
    code, output = run()
    assert code != 0
    assert "--config" in output
