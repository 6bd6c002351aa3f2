"""Shipper config: the example loads; bad fields are all named; the CLI says so cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kafka_logging.config import parse
from kafka_logging.errors import ConfigError
from shipper.cli import ship
from shipper.config import ShipperConfig, load_config

EXAMPLE = Path(__file__).parents[3] / "deploy" / "shipper.yaml"


def test_the_deploy_example_loads_and_documents_every_key() -> None:
    """deploy/shipper.yaml is valid and sets every key of every section."""
    config = load_config(EXAMPLE)
    assert config.inputs[0].multiline is not None
    assert config.inputs[1].parser.type == "regex"
    text = EXAMPLE.read_text()
    for model in (config.output, config.limits, config.checkpoint, config.metrics, config.kafka):
        for field in type(model).model_fields:
            assert f"{field}:" in text, f"{field} is not documented in {EXAMPLE}"


def test_unknown_keys_and_wrong_types_are_all_named_in_one_error() -> None:
    """Every bad field, with its path, in one message."""
    data = {
        "inputs": [{"paths": ["/x/*.log"], "service": "s", "colour": "red"}],
        "limits": {"max_open_files": "many"},
        "outptu": {},
    }
    with pytest.raises(ConfigError) as caught:
        parse(data, ShipperConfig, environ={})
    message = str(caught.value)
    assert "inputs.0.colour: unknown key" in message
    assert "limits.max_open_files" in message
    assert "outptu: unknown key" in message


def test_relative_paths_and_bad_regexes_are_rejected() -> None:
    """Globs must be absolute; a regex parser needs named groups; multiline needs one rule."""
    bad = [
        {"paths": ["logs/*.log"], "service": "s"},
        {"paths": ["/x"], "service": "s", "parser": {"type": "regex", "pattern": "(a)"}},
        {"paths": ["/x"], "service": "s", "multiline": {"negate": True}},
        {"paths": ["/x"], "service": "s", "multiline": {"pattern": "("}},
    ]
    for one in bad:
        with pytest.raises(ConfigError):
            parse({"inputs": [one]}, ShipperConfig, environ={})


def test_duplicate_input_names_are_rejected() -> None:
    """Input names key checkpoints: they must be unique."""
    inputs = [{"paths": ["/a"], "service": "s", "name": "x"}] * 2
    with pytest.raises(ConfigError, match="unique"):
        parse({"inputs": inputs}, ShipperConfig, environ={})


def test_cli_reports_a_bad_config_without_a_traceback(tmp_path: Path) -> None:
    """`kafka-logging ship` with a bad file: exit 1, the problem named, no traceback."""
    path = tmp_path / "bad.yaml"
    path.write_text("inputs:\n  - paths: [/x]\n    service: s\n    typo: 1\n")
    result = CliRunner().invoke(ship, ["--config", str(path)])
    assert result.exit_code == 1
    assert "inputs.0.typo: unknown key" in result.output
    assert "Traceback" not in result.output


def test_cli_reports_a_missing_config_file(tmp_path: Path) -> None:
    """A missing file is named."""
    result = CliRunner().invoke(ship, ["--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "cannot read config file" in result.output


def test_the_daemonset_config_map_holds_a_valid_shipper_config() -> None:
    """The Kubernetes manifest parses and its embedded shipper.yaml validates."""
    import yaml

    manifest = EXAMPLE.parent / "kubernetes" / "shipper-daemonset.yaml"
    docs = list(yaml.safe_load_all(manifest.read_text()))
    kinds = [d["kind"] for d in docs]
    assert "DaemonSet" in kinds
    [config_map] = [d for d in docs if d["kind"] == "ConfigMap"]
    data = yaml.safe_load(config_map["data"]["shipper.yaml"])
    data["kafka"].pop("sasl_password_file")  # read only when connecting
    config = parse(data, ShipperConfig, environ={})
    assert config.inputs[0].paths == ["/var/log/pods/**/*.log"]


def test_the_systemd_unit_is_sandboxed_and_stops_gracefully() -> None:
    """The unit runs `ship`, stops with SIGTERM and carries the sandboxing options."""
    unit = (EXAMPLE.parent / "systemd" / "kafka-logging-shipper.service").read_text()
    for option in (
        "ExecStart=/usr/local/bin/kafka-logging ship --config",
        "KillSignal=SIGTERM",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "StateDirectory=kafka-logging/shipper",
        "CapabilityBoundingSet=",
        "SystemCallFilter=@system-service",
    ):
        assert option in unit
